#include <stdio.h>
int main(void) { puts("streamrun " SR_VERSION); return 0; }
