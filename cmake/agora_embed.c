/*
 * agora_embed.c - the build-time generator behind agora_embed()
 * (agora_embed.cmake): a directory of web assets becomes one C source
 * holding a struct agora_static_table (<agora/static.h>).
 *
 *     agora_embed_gen NAME OUT.c DIR FILE...
 *
 * FILEs are paths relative to DIR. For each, the source gets its bytes,
 * its content type (from the extension), an ETag (FNV-1a 64 of the
 * bytes, so it changes exactly when the file does) and its gzip'd bytes,
 * made by Debian's gzip (-9 -n: no name nor time stamp, so a rebuild of
 * the same assets gives the same source). The files are sorted by path:
 * agora_static_find() searches them by halves.
 *
 * OUT.c is written beside, then renamed over, so an interrupted build
 * leaves no half file that make would take as up to date.
 */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct blob {
    unsigned char *data;
    size_t len, cap;
};

/* Exits 1 with what and arg, and errno's message when errno is set:
 * callers whose failure sets no errno clear it first. */
static void die(const char *what, const char *arg)
{
    fprintf(stderr, "agora_embed: %s%s%s%s%s\n", what, arg ? " " : "",
            arg ? arg : "", errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static void blob_add(struct blob *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *d;

        while (cap < b->len + n)
            cap *= 2;
        d = realloc(b->data, cap);
        if (d == NULL)
            die("out of memory", NULL);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Everything fd gives until its end. */
static void read_all(int fd, struct blob *b, const char *name)
{
    unsigned char buf[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("cannot read", name);
        if (n == 0)
            return;
        blob_add(b, buf, (size_t)n);
    }
}

static void read_file(const char *path, struct blob *b)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        die("cannot open", path);
    read_all(fileno(f), b, path);
    fclose(f);
}

/* `gzip -9 -n -c < path`, its output in b. */
static void gzip_file(const char *path, struct blob *b)
{
    char *argv[] = {"gzip", "-9", "-n", "-c", NULL};
    posix_spawn_file_actions_t fa;
    int out[2], status;
    pid_t pid;

    if (pipe(out) != 0)
        die("pipe", NULL);
    if (posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 0, path, 0, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0 ||
        posix_spawn_file_actions_addclose(&fa, out[0]) != 0)
        die("posix_spawn_file_actions", NULL);
    errno = posix_spawnp(&pid, "gzip", &fa, NULL, argv, environ);
    if (errno != 0)
        die("cannot run gzip for", path);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    read_all(out[0], b, "gzip's output");
    close(out[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid", NULL);
    errno = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("gzip failed on", path);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    size_t i;

    for (i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void emit_bytes(FILE *o, const char *name, size_t idx,
                       const struct blob *b)
{
    size_t i;

    fprintf(o, "static const unsigned char %s_%zu[] = {", name, idx);
    for (i = 0; i < b->len; i++)
        fprintf(o, "%s%u,", i % 20 ? "" : "\n", b->data[i]);
    /* An empty file still needs an array of one byte. */
    fprintf(o, "%s};\n", b->len ? "" : "0");
}

/* A C string literal of s (paths: printable, but quote \ and "). */
static void emit_string(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', o);
        fputc(*s, o);
    }
    fputc('"', o);
}

/* A file to embed: its name in the table, and where its bytes are. */
struct entry {
    const char *name;
    char src[4096];
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name,
                  ((const struct entry *)b)->name);
}

int main(int argc, char **argv)
{
    const char *name, *out, *dir;
    char tmp[4096];
    struct entry *files;
    size_t n, i;
    FILE *o;

    if (argc < 4) {
        fprintf(stderr, "usage: agora_embed_gen NAME OUT.c DIR "
                        "FILE|FILE=SOURCE...\n");
        return 2;
    }
    name = argv[1];
    out = argv[2];
    dir = argv[3];
    n = (size_t)argc - 4;
    if ((files = calloc(n ? n : 1, sizeof(*files))) == NULL)
        die("out of memory", NULL);
    /* FILE is under DIR; FILE=SOURCE (a shared asset) is read from SOURCE. */
    for (i = 0; i < n; i++) {
        char *arg = argv[4 + i], *eq = strchr(arg, '=');
        int len;

        if (eq) {
            *eq = '\0';
            len = snprintf(files[i].src, sizeof(files[i].src), "%s", eq + 1);
        } else {
            len = snprintf(files[i].src, sizeof(files[i].src), "%s/%s", dir,
                           arg);
        }
        errno = 0;
        if (len < 0 || (size_t)len >= sizeof(files[i].src))
            die("path too long:", arg);
        files[i].name = arg;
    }
    qsort(files, n, sizeof(*files), cmp_entry);
    errno = 0;
    for (i = 1; i < n; i++)
        if (strcmp(files[i - 1].name, files[i].name) == 0)
            die("embedded twice:", files[i].name);
    errno = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp))
        die("path too long:", out);
    o = fopen(tmp, "w");
    if (o == NULL)
        die("cannot write", tmp);
    fprintf(o,
            "/* Generated by agora_embed from %s: do not edit. */\n"
            "#include <agora/static.h>\n\n",
            dir);
    for (i = 0; i < n; i++) {
        struct blob raw = {0}, gz = {0};
        uint64_t h;

        read_file(files[i].src, &raw);
        gzip_file(files[i].src, &gz);
        emit_bytes(o, "raw", i, &raw);
        if (gz.len < raw.len)
            emit_bytes(o, "gz", i, &gz);
        h = fnv1a(raw.data, raw.len);
        fprintf(o, "#define ETAG_%zu \"\\\"%016" PRIx64 "\\\"\"\n", i, h);
        fprintf(o, "#define ETAGGZ_%zu \"\\\"%016" PRIx64 "-gz\\\"\"\n", i, h);
        fprintf(o,
                "#define LEN_%zu %zu\n#define GZ_%zu %s\n#define GZLEN_%zu "
                "%zu\n\n",
                i, raw.len, i, gz.len < raw.len ? "1" : "0", i,
                gz.len < raw.len ? gz.len : 0);
        free(raw.data);
        free(gz.data);
    }
    fprintf(o, "static const struct agora_static_file files[] = {\n");
    for (i = 0; i < n; i++) {
        fprintf(o, "    {.path = ");
        emit_string(o, files[i].name);
        fprintf(o,
                ", .content_type = \"%s\",\n     .data = raw_%zu, "
                ".len = LEN_%zu,\n",
                content_type(files[i].name), i, i);
        fprintf(o,
                "#if GZ_%zu\n     .gz = gz_%zu, .gz_len = GZLEN_%zu,\n"
                "#endif\n",
                i, i, i);
        fprintf(o, "     .etag = ETAG_%zu, .etag_gz = ETAGGZ_%zu},\n", i, i);
    }
    if (n == 0)
        fprintf(o, "    {0},\n");
    fprintf(o,
            "};\n\nconst struct agora_static_table %s = {\n"
            "    .name = \"%s\", .files = files, .n = %zu,\n};\n",
            name, name, n);
    if (fclose(o) != 0)
        die("cannot write", tmp);
    if (rename(tmp, out) != 0)
        die("cannot rename to", out);
    free(files);
    return 0;
}
