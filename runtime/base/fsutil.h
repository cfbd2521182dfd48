/*
** fsutil: the file operations recovery depends on.
**
** sr_fs_write_atomic is the only way the runtime writes a file that a restart reads: it writes
** PATH.tmp-PID, fsyncs it, renames it over PATH, and fsyncs the directory, so after a crash at
** any instant PATH holds either its old contents or the new ones, never a mix.
*/
#ifndef SR_FSUTIL_H
#define SR_FSUTIL_H
#include <stddef.h>
#include "sr_error.h"

/* Creates a directory and its parents (mode 0755). Returns SR_OK or SR_ERROR with *err set. */
sr_status sr_fs_mkdirs(const char *path, sr_error **err);
/* Atomically replaces path with data (see above). Returns SR_OK or SR_ERROR with *err set. */
sr_status sr_fs_write_atomic(const char *path, const void *data, size_t len, sr_error **err);
/* Writes data to path in place (created or truncated) and fsyncs the file, not its directory:
** for a file that is renamed later (the rename and the directory fsync make it durable) and
** that nothing reads after a crash. Returns SR_OK or SR_ERROR with *err set. */
sr_status sr_fs_write_synced(const char *path, const void *data, size_t len, sr_error **err);
/* sr_fs_write_synced in steps, for a file produced piece by piece: an append of 64 KB or more
** also starts the writeback of its bytes (sync_file_range, asynchronous), so the device writes
** while the caller produces the next piece and the final fsync waits mostly for the last one. */
typedef struct sr_fs_writer {
  int fd;          /* -1 when closed */
  long long size;  /* bytes appended */
  char *path;      /* malloc'd */
} sr_fs_writer;
#define SR_FS_WRITER_INIT {-1, 0, NULL}
/* Creates or truncates path. Returns SR_OK or SR_ERROR with *err set (w is then closed). */
sr_status sr_fs_writer_open(sr_fs_writer *w, const char *path, sr_error **err);
/* Appends data. Returns SR_OK or SR_ERROR with *err set (the file is then removed, w closed). */
sr_status sr_fs_writer_append(sr_fs_writer *w, const void *data, size_t len, sr_error **err);
/* fsyncs and closes the file. Returns SR_OK or SR_ERROR with *err set (the file is then removed). */
sr_status sr_fs_writer_finish(sr_fs_writer *w, sr_error **err);
/* Closes and removes an unfinished file; does nothing on a closed writer. */
void sr_fs_writer_abort(sr_fs_writer *w);
/* Like sr_fs_write_atomic, but fails with SR_ERROR if path exists (link(2), not rename). */
sr_status sr_fs_write_new(const char *path, const void *data, size_t len, sr_error **err);
/* fsyncs the directory holding path (or path itself when it is a directory). */
sr_status sr_fs_sync_dir(const char *path, sr_error **err);
/* Reads a whole file into a malloc'd, NUL-terminated buffer the caller frees. Returns NULL and
** sets *err (SR_ERROR) on failure; errno is kept, so ENOENT can be told apart. */
char *sr_fs_read_all(const char *path, size_t *len, sr_error **err);
/* Reads fd (the file at path, named in errors) into buf until cap bytes or the end of the
** file; *got is what was read. Returns SR_OK, or SR_ERROR with *err set and errno kept. */
sr_status sr_fs_read_fd(int fd, const char *path, char *buf, size_t cap, size_t *got, sr_error **err);
/* Checked files: the one form of every small file a restart reads back (the checkpoint's
** metadata, offsets/N, commits/N and plan, a file source's log, a file sink's log). The file is
** its body followed by one trailer line:
**
**     #crc32 XXXXXXXX TAG\n
**
** XXXXXXXX is the CRC-32 (zlib) of the body and then of TAG, in lowercase hex. TAG says what
** the file is and whose (for instance "offsets/5@<query id>"), so a whole, valid file copied
** to another name or from another query is refused as surely as a torn one. TAG has no spaces
** or newlines. The body must end with '\n'. */
/* Writes body + trailer with sr_fs_write_atomic. Returns SR_OK or SR_ERROR with *err set. */
sr_status sr_fs_write_checked(const char *path, const char *tag, const void *body, size_t len,
                              sr_error **err);
/* Reads a checked file into a malloc'd, NUL-terminated body without its trailer (the caller
** frees it), after verifying the checksum and that its tag is `tag`. A file without a trailer
** line is one written before checksums: it is returned as it is with *checked = 0, and the
** caller must parse it strictly. Returns NULL with *err set (naming the file and what is
** wrong) when the file cannot be read, its checksum differs, its trailer is incomplete or its
** tag is another; errno is ENOENT when the file does not exist, EBADMSG when it is damaged. */
char *sr_fs_read_checked(const char *path, const char *tag, size_t *len, int *checked, sr_error **err);
/* The CRC-32 (zlib's) of n bytes, continuing from crc (0 to start). */
unsigned long sr_crc32(unsigned long crc, const void *p, size_t n);
/* 1 if path exists. */
int sr_fs_exists(const char *path);
/* Removes a file or a directory tree. Missing paths are not an error. */
sr_status sr_fs_remove_tree(const char *path, sr_error **err);

#endif
