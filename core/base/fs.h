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

/*
 * Reads up to n bytes into buf, through short reads and EINTR: at the
 * file's position when off is negative (read(), which moves it), else
 * at off (pread(), which does not). Returns how many bytes, fewer than n
 * only at the end of the file, or -1 with errno set.
 */
ssize_t fs_read_full(int fd, void *buf, size_t n, off_t off);

#endif /* AGORA_FS_H */
