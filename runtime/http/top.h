/*
** top: `streamrun top [URL]`, a terminal view of every query of a job run with --http, read from
** its JSON API (/api/v1/queries) once a second over a plain HTTP/1.1 socket; q quits.
*/
#ifndef SR_TOP_H
#define SR_TOP_H

/* Runs until q (or EOF on a terminal-less stdin after one screen). Returns an exit code: 0, or 1
** when the URL is not one it can read. */
int sr_top_main(int argc, char **argv);

#endif
