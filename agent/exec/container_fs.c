/*
 * container_fs.c - a container's root file system, built by its shim in a
 * mount namespace of the shim's own (so nothing is ever mounted in the
 * agent's, and everything goes away with the shim and its task):
 *
 *   <dir> = <work_dir>/containers/<task_id>   0700, the shim's
 *     rootfs/   the overlay of the image's layers (lowest last in
 *               lowerdir=, as overlayfs orders them), or a copy of the
 *               layers when overlayfs refuses (whiteouts applied)
 *     upper/    the container's writes (overlay)          0755
 *     work/     overlayfs' work directory                  0700
 *
 * then, inside rootfs: the sandbox at /mnt/mesos/sandbox, a minimal /dev
 * (tmpfs, the host's null zero full random urandom tty bound, a new
 * devpts instance, /dev/shm, the /dev/fd links), /tmp (tmpfs), /sys
 * read-only, the host's /etc/hostname, /etc/hosts and /etc/resolv.conf
 * read-only (name resolution works as on the host), and the volumes.
 * /proc is mounted by the task's first process, in its pid namespace
 * (container_shim.c).
 *
 * Every mount point inside the rootfs is opened component by component
 * without following symlinks (the image is not trusted: a symlink /etc
 * -> /host/etc must not make a bind land on the host), and mounted on
 * through its /proc/self/fd link. The copy fallback resolves every
 * destination inside the copy (RESOLVE_IN_ROOT), for the same reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "container.h"
#include "container_int.h"

#define OVERLAY_DATA_MAX 4000 /* mount(2)'s data is one page */

/* ------------------------------------------------------------------ */
/* Removing a tree */
/* ------------------------------------------------------------------ */

/* nftw() passes its callback no argument: the shim and the agent's
 * loop are single-threaded, so the state of one walk is a static. */
static int remove_err;

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *f)
{
    (void)st;
    (void)f;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 &&
        errno != ENOENT && !remove_err)
        remove_err = -errno;
    return 0;
}

int ctr_tree_remove(const char *path)
{
    remove_err = 0;
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 &&
        errno != ENOENT && !remove_err)
        remove_err = -errno;
    return remove_err;
}

/* ------------------------------------------------------------------ */
/* Paths inside the rootfs */
/* ------------------------------------------------------------------ */

/*
 * Opens rel (relative to root, "a/b/c") as O_PATH, making what is missing
 * (directories 0755; the last a file 0644 when file is set), never
 * following a symlink. -1 with errno (ELOOP/ENOTDIR: a symlink or a file
 * where a directory must be).
 */
int ctr_open_in(int root, const char *rel, int file)
{
    char comp[NAME_MAX + 1];
    int cur = dup(root), next;

    while (cur >= 0 && *rel) {
        const char *e = strchr(rel, '/');
        size_t len = e ? (size_t)(e - rel) : strlen(rel);
        int last = !e || !e[1];

        if (len == 0 || len > NAME_MAX) {
            close(cur);
            errno = EINVAL;
            return -1;
        }
        memcpy(comp, rel, len);
        comp[len] = '\0';
        rel += len + (e ? 1 : 0);
        if (last && file) {
            /* Read-only: an image's file is not copied up by overlayfs
             * only to be mounted over. */
            int fd = openat(cur, comp,
                            O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                                O_NONBLOCK, 0644);
            if (fd < 0 && errno == EISDIR)
                fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                close(fd);
            next = fd < 0 ? -1
                          : openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        } else {
            next = openat(cur, comp,
                          O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0 && errno == ENOENT &&
                (mkdirat(cur, comp, 0755) == 0 || errno == EEXIST))
                next = openat(cur, comp,
                              O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e2 = errno;
        close(cur);
        errno = e2;
        cur = next;
    }
    return cur;
}

static void fd_path(int fd, char *buf, size_t len)
{
    snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* mount(src, root/rel) with rel made as needed; 0 or -1 with a reason. */
static int mount_in(struct ctr_run *c, const char *src, const char *rel,
                    const char *type, unsigned long flags, const char *data,
                    int file)
{
    char target[64];
    int fd = ctr_open_in(c->rootfd, rel, file);

    if (fd < 0) {
        ctr_fail(c, "/%s in the image: %s", rel, strerror(errno));
        return -1;
    }
    fd_path(fd, target, sizeof(target));
    if (mount(src, target, type, flags, data) != 0) {
        ctr_fail(c, "mounting %s on /%s: %s", src ? src : type, rel,
                 strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    if (!(flags & MS_BIND) || !(flags & MS_RDONLY))
        return 0;
    /* A bind ignores MS_RDONLY: remount the new mount (the path walked
     * again reaches it, not the directory under it). */
    if ((fd = ctr_open_in(c->rootfd, rel, file)) < 0) {
        ctr_fail(c, "/%s: %s", rel, strerror(errno));
        return -1;
    }
    fd_path(fd, target, sizeof(target));
    if (mount(NULL, target, NULL,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL) != 0) {
        ctr_fail(c, "making /%s read-only: %s", rel, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The copy of the layers, when overlayfs refuses */
/* ------------------------------------------------------------------ */

static struct {
    int dest;          /* the rootfs, O_PATH */
    size_t base;       /* strlen of the layer's root */
    int err;
} cp;

/* The directory of rel's parent inside the copy, O_PATH; -1 with errno. */
static int parent_in_copy(const char *rel, const char **name)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    char dir[PATH_MAX];
    const char *slash = strrchr(rel, '/');

    *name = slash ? slash + 1 : rel;
    if (!slash)
        return dup(cp.dest);
    if ((size_t)(slash - rel) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, rel, (size_t)(slash - rel));
    dir[slash - rel] = '\0';
    return (int)syscall(SYS_openat2, cp.dest, dir, &how, sizeof(how));
}

/* Removes name in dir, a whole tree if it is a directory. */
static void remove_in(int dir, const char *name)
{
    char path[64 + NAME_MAX];
    struct stat st;

    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        (void)unlinkat(dir, name, 0);
        return;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dir, name);
    (void)ctr_tree_remove(path);
}

static int copy_file(const char *src, int dir, const char *name,
                     const struct stat *st)
{
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out;
    off_t off = 0;

    if (in < 0)
        return -1;
    out = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                O_CLOEXEC, st->st_mode & 07777);
    if (out < 0) {
        close(in);
        return -1;
    }
    while (off < st->st_size) {
        ssize_t n = sendfile(out, in, &off, (size_t)(st->st_size - off));
        if (n <= 0)
            break;
    }
    (void)fchown(out, st->st_uid, st->st_gid);
    (void)fchmod(out, st->st_mode & 07777);
    close(in);
    close(out);
    return 0;
}

static int copy_one(const char *path, const struct stat *st, int flag,
                    struct FTW *f)
{
    const char *rel = path + cp.base, *name;
    char link[PATH_MAX], opaque[2];
    int dir, rc = 0;
    ssize_t n;

    (void)f;
    while (*rel == '/')
        rel++;
    if (!*rel || flag == FTW_NS || flag == FTW_DNR)
        return 0;
    if ((dir = parent_in_copy(rel, &name)) < 0)
        return 0; /* under something the image deleted or replaced */
    if (S_ISCHR(st->st_mode) && st->st_rdev == 0) {
        remove_in(dir, name); /* a whiteout */
        close(dir);
        return 0;
    }
    if (S_ISDIR(st->st_mode)) {
        struct stat old;
        int is_opaque = lgetxattr(path, "trusted.overlay.opaque", opaque,
                                  sizeof(opaque)) == 1 && opaque[0] == 'y';
        if (is_opaque ||
            (fstatat(dir, name, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
             !S_ISDIR(old.st_mode)))
            remove_in(dir, name);
        if (mkdirat(dir, name, st->st_mode & 07777) != 0 && errno != EEXIST)
            rc = -1;
        (void)fchownat(dir, name, st->st_uid, st->st_gid,
                       AT_SYMLINK_NOFOLLOW);
        close(dir);
        return rc ? (cp.err = errno, 1) : 0;
    }
    remove_in(dir, name);
    if (S_ISREG(st->st_mode)) {
        rc = copy_file(path, dir, name, st);
    } else if (S_ISLNK(st->st_mode)) {
        n = readlink(path, link, sizeof(link) - 1);
        if (n >= 0) {
            link[n] = '\0';
            rc = symlinkat(link, dir, name);
            (void)fchownat(dir, name, st->st_uid, st->st_gid,
                           AT_SYMLINK_NOFOLLOW);
        }
    } else {
        rc = mknodat(dir, name, st->st_mode, st->st_rdev);
    }
    close(dir);
    return rc ? (cp.err = errno, 1) : 0;
}

/* Copies the layers, lowest first, into c->rootfs. 0 or -1. */
static int copy_layers(struct ctr_run *c)
{
    for (size_t i = 0; i < c->nlayers; i++) {
        cp.dest = c->rootfd;
        cp.base = strlen(c->layers[i]);
        cp.err = 0;
        if (nftw(c->layers[i], copy_one, 16, FTW_PHYS) != 0) {
            ctr_fail(c, "copying layer %s: %s", c->layers[i],
                     strerror(cp.err ? cp.err : errno));
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The rootfs */
/* ------------------------------------------------------------------ */

/* Overlay of the layers on c->rootfs; -1 (nothing mounted) when the
 * kernel refuses or the options do not fit in a page. */
static int mount_overlay(struct ctr_run *c)
{
    char data[OVERLAY_DATA_MAX];
    size_t n;
    int len;

    len = snprintf(data, sizeof(data), "lowerdir=");
    /* overlayfs: the first lowerdir is the top one. */
    for (size_t i = c->nlayers; i-- > 0 && len > 0;) {
        n = (size_t)len;
        len = n < sizeof(data)
                  ? snprintf(data + n, sizeof(data) - n, "%s%s", c->layers[i],
                             i ? ":" : "")
                  : -1;
        len = len < 0 || n + (size_t)len >= sizeof(data) ? -1
                                                         : (int)n + len;
    }
    if (len > 0) {
        n = (size_t)len;
        len = snprintf(data + n, sizeof(data) - n,
                       ",upperdir=%s/upper,workdir=%s/work", c->dir, c->dir);
        if (len < 0 || n + (size_t)len >= sizeof(data))
            len = -1;
    }
    if (len < 0)
        return -1;
    return mount("overlay", c->rootfs, "overlay", MS_NOSUID, data);
}

static int make_dirs(struct ctr_run *c)
{
    char p[PATH_MAX];

    (void)ctr_tree_remove(c->dir); /* an earlier run under this id */
    if (mkdir(c->dir, 0700) != 0) {
        ctr_fail(c, "mkdir %s: %s", c->dir, strerror(errno));
        return -1;
    }
    static const struct {
        const char *name;
        mode_t mode;
    } sub[] = {{"rootfs", 0755}, {"upper", 0755}, {"work", 0700}};
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", c->dir, sub[i].name);
        if (mkdir(p, sub[i].mode) != 0 || chmod(p, sub[i].mode) != 0) {
            ctr_fail(c, "mkdir %s: %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int rootfs_mount(struct ctr_run *c)
{
    if (make_dirs(c) != 0)
        return -1;
    if (c->copy || mount_overlay(c) != 0) {
        c->copied = 1;
        c->rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW |
                                        O_CLOEXEC);
        if (c->rootfd < 0 || copy_layers(c) != 0)
            return -1;
        close(c->rootfd);
        c->rootfd = -1;
        /* pivot_root() wants a mount point. */
        if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) != 0) {
            ctr_fail(c, "binding %s: %s", c->rootfs, strerror(errno));
            return -1;
        }
    }
    c->rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c->rootfd < 0) {
        ctr_fail(c, "opening %s: %s", c->rootfs, strerror(errno));
        return -1;
    }
    return 0;
}

static int dev_mount(struct ctr_run *c)
{
    static const char *const devs[] = {"null", "zero", "full", "random",
                                       "urandom", "tty"};
    static const char *const links[][2] = {
        {"fd", "/proc/self/fd"},     {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
        {"ptmx", "pts/ptmx"}};
    char src[64], rel[64];
    int dev;

    if (mount_in(c, "tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
                 "mode=755,size=65536k", 0) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        snprintf(src, sizeof(src), "/dev/%s", devs[i]);
        snprintf(rel, sizeof(rel), "dev/%s", devs[i]);
        if (mount_in(c, src, rel, NULL, MS_BIND, NULL, 1) != 0)
            return -1;
    }
    if ((dev = ctr_open_in(c->rootfd, "dev", 0)) < 0)
        return ctr_fail(c, "/dev: %s", strerror(errno)), -1;
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        (void)symlinkat(links[i][1], dev, links[i][0]);
    close(dev);
    if (mount_in(c, "devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620", 0) != 0 ||
        mount_in(c, "shm", "dev/shm", "tmpfs",
                 MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
                 0) != 0)
        return -1;
    return 0;
}

static int volumes_mount(struct ctr_run *c)
{
    for (size_t i = 0; i < c->nvolumes; i++) {
        const struct ctr_mount *v = &c->volumes[i];
        struct stat st;

        if (v->in_sandbox && mkdir(v->host, 0755) != 0 && errno != EEXIST)
            return ctr_fail(c, "volume %s: %s", v->host, strerror(errno)), -1;
        if (lstat(v->host, &st) != 0 || S_ISLNK(st.st_mode))
            return ctr_fail(c, "volume %s: %s", v->host,
                            S_ISLNK(st.st_mode) ? "a symlink"
                                                : strerror(errno)),
                   -1;
        if (mount_in(c, v->host, v->container + 1, NULL,
                     MS_BIND | MS_REC | (v->ro ? MS_RDONLY : 0), NULL,
                     !S_ISDIR(st.st_mode)) != 0)
            return -1;
    }
    return 0;
}

/* The mount point /proc, for the task to mount. */
static int mkdir_in(struct ctr_run *c, const char *rel)
{
    int fd = ctr_open_in(c->rootfd, rel, 0);

    if (fd < 0)
        return ctr_fail(c, "/%s in the image: %s", rel, strerror(errno)), -1;
    close(fd);
    return 0;
}

int ctr_fs_setup(struct ctr_run *c)
{
    static const char *const etc[] = {"hostname", "hosts", "resolv.conf"};
    char src[64], rel[64];

    if (unshare(CLONE_NEWNS) != 0)
        return ctr_fail(c, "unshare(CLONE_NEWNS): %s", strerror(errno)), -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return ctr_fail(c, "making / private: %s", strerror(errno)), -1;
    if (rootfs_mount(c) != 0 ||
        mount_in(c, c->sandbox, &CTR_SANDBOX[1], NULL, MS_BIND | MS_REC, NULL,
                 0) != 0 ||
        dev_mount(c) != 0 ||
        mount_in(c, "tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV,
                 "mode=1777", 0) != 0 ||
        mount_in(c, "/sys", "sys", NULL, MS_BIND | MS_REC | MS_RDONLY, NULL,
                 0) != 0 ||
        mkdir_in(c, "proc") != 0 ||
        (c->workdir[1] && mkdir_in(c, c->workdir + 1) != 0))
        return -1;
    for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++) {
        struct stat st;
        snprintf(src, sizeof(src), "/etc/%s", etc[i]);
        snprintf(rel, sizeof(rel), "etc/%s", etc[i]);
        /* A host without the file, or an image whose file is a symlink:
         * the image's stays. */
        if (stat(src, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        int fd = ctr_open_in(c->rootfd, rel, 1);
        if (fd < 0)
            continue;
        close(fd);
        if (mount_in(c, src, rel, NULL, MS_BIND | MS_RDONLY, NULL, 1) != 0)
            return -1;
    }
    return volumes_mount(c);
}

void ctr_fs_teardown(struct ctr_run *c)
{
    if (c->rootfd >= 0)
        close(c->rootfd);
    c->rootfd = -1;
    if (c->rootfs)
        (void)umount2(c->rootfs, MNT_DETACH);
    if (c->dir)
        (void)ctr_tree_remove(c->dir);
}
