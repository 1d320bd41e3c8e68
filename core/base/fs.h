/*
 * fs.h - the file helpers both daemons use.
 */
#ifndef AGORA_FS_H
#define AGORA_FS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * mkdir -p: creates path and its missing parents with mode (existing
 * ones are left as they are). 0, or -1 with errno set by the mkdir that
 * failed (ENAMETOOLONG past PATH_MAX, ENOMEM).
 */
int fs_mkdirs(const char *path, mode_t mode);

/*
 * Reads the whole of a regular file of at most max bytes into a
 * malloc'ed, NUL-terminated buffer in *out (its length in *len when len
 * is not NULL; the caller frees *out). 0, AGORA_ENOENT, AGORA_ETOOBIG
 * (over max: nothing is returned), AGORA_EIO or AGORA_ENOMEM.
 */
int fs_read_file(const char *path, size_t max, char **out, size_t *len);

#endif /* AGORA_FS_H */
