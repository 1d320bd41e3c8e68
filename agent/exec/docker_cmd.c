/*
 * docker_cmd.c - the docker containerizer's command lines (docker.h), as
 * Mesos' Docker::run() builds them (src/docker/docker.cpp):
 *
 *   docker run --cpu-shares N --memory B --env-file <sandbox>/.docker_env
 *     -v <sandbox>:/mnt/mesos/sandbox [-v host:ctr:ro|rw ...]
 *     --net host|bridge|none [-p host:ctr/proto ...] [--key=value ...]
 *     [--pull=always] --name mesos-<task> [--entrypoint /bin/sh]
 *     <image> [-c <command> | argv...]
 *
 * A shell command overrides the image's entrypoint with /bin/sh, as
 * Mesos does (MESOS-1770); argv keeps the image's entrypoint and
 * replaces its cmd. Every value is one argv element (no shell between
 * us and docker), but docker itself reads a leading '-' as an option and
 * -v's ':' as a separator, so those are refused where docker would
 * misread them.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>

#include "docker.h"
#include "proc.h"

/* A growing NULL-terminated argv; nomem once any add failed. */
struct dargv {
    char **v;
    size_t n, cap;
    int nomem;
};

static void add(struct dargv *a, const char *s)
{
    char *c;

    if (a->nomem)
        return;
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **nv = realloc(a->v, cap * sizeof(*nv));

        if (nv == NULL) {
            a->nomem = 1;
            return;
        }
        a->v = nv;
        a->cap = cap;
    }
    c = strdup(s);
    if (c == NULL) {
        a->nomem = 1;
        return;
    }
    a->v[a->n++] = c;
    a->v[a->n] = NULL;
}

static void addf(struct dargv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void addf(struct dargv *a, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        a->nomem = 1;
        return;
    }
    add(a, s);
    free(s);
}

void docker_argv_free(char **argv)
{
    size_t i;

    for (i = 0; argv != NULL && argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

/* Hands a's vector to *out: 0, or -1 (freed) when out of memory. */
static int finish(struct dargv *a, char ***out)
{
    if (a->nomem || a->v == NULL) {
        docker_argv_free(a->v);
        *out = NULL;
        return -1;
    }
    *out = a->v;
    return 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int docker_name(const char *task_id, char *buf, size_t len)
{
    size_t i, n = strlen(task_id), used;
    uint32_t h = 2166136261u; /* FNV-1a */
    int replaced = 0;

    if (n == 0 || 6 + n + 10 > len)
        return -1;
    memcpy(buf, "mesos-", 6);
    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char)task_id[i]) * 16777619u;
        buf[6 + i] = name_char(task_id[i]) ? task_id[i] : '_';
        replaced |= !name_char(task_id[i]);
    }
    used = 6 + n;
    if (replaced)
        used += (size_t)snprintf(buf + used, len - used, "-%08x", h);
    buf[used] = '\0';
    return 0;
}

/* 1 when s has a byte below ' ' (a newline would end an env-file line,
 * or split a docker flag's value in its own parsers). */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ')
            return 1;
    return 0;
}

/* docker's image reference: no option, no blank, no control byte. */
static int image_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '-' || strlen(s) > 4096)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* A parameter key as docker's flags are spelled: [a-z0-9][a-z0-9-]*. */
static int param_key_ok(const char *k)
{
    size_t i;

    if (k == NULL || !((k[0] >= 'a' && k[0] <= 'z') ||
                       (k[0] >= '0' && k[0] <= '9')))
        return 0;
    for (i = 1; k[i]; i++) {
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
              k[i] == '-'))
            return 0;
    }
    return i <= 64;
}

/* An absolute path docker's -v can carry: no ':' or ',', no "..". */
static int volume_path_ok(const char *p)
{
    const char *s;

    if (p == NULL || p[0] != '/' || strchr(p, ':') || strchr(p, ',') ||
        has_control(p) || strlen(p) > 4096)
        return 0;
    for (s = p; (s = strstr(s, "..")) != NULL; s += 2) {
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
            return 0;
    }
    return 1;
}

/* 1 when path is dir or under it. */
static int path_under(const char *path, const char *dir, size_t dlen)
{
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (strncmp(path, dir, dlen) != 0)
        return 0;
    return path[dlen] == '\0' || path[dlen] == '/' || dlen == 1;
}

static int volume_allowed(const char *path, const char *allowed)
{
    const char *p = allowed, *comma;

    if (allowed == NULL || allowed[0] == '\0')
        return 1;
    while (*p) {
        comma = strchr(p, ',');
        if (comma == NULL)
            comma = p + strlen(p);
        if (comma > p && p[0] == '/' && path_under(path, p, (size_t)(comma - p)))
            return 1;
        p = *comma ? comma + 1 : comma;
    }
    return 0;
}

/* The member of the container, or of its docker object (Marathon keeps
 * image, network and parameters under docker; Chronos at the top). */
static yajl_val member(yajl_val ct, yajl_val docker, const char *key)
{
    yajl_val v = docker ? agora_json_get(docker, key) : NULL;

    return v != NULL ? v : agora_json_get(ct, key);
}

static int check_type(yajl_val ct, yajl_val docker, char *err, size_t errlen)
{
    const char *type = agora_json_get_str(ct, "type");
    yajl_val priv = member(ct, docker, "privileged");

    if (type != NULL && strcmp(type, "DOCKER") != 0) {
        exec_errf(err, errlen, "container.type: %s is not run by the docker "
                          "containerizer", type);
        return -1;
    }
    if (priv != NULL && !YAJL_IS_FALSE(priv) && !YAJL_IS_NULL(priv)) {
        exec_errf(err, errlen, "container.docker.privileged: not supported");
        return -1;
    }
    return 0;
}

/* --net, and the port mappings BRIDGE takes. */
static int add_network(struct dargv *a, yajl_val ct, yajl_val docker,
                       char *err, size_t errlen)
{
    yajl_val nv = member(ct, docker, "network");
    yajl_val pm = agora_json_get(ct, "portMappings");
    const char *net = "HOST", *proto;
    int64_t hp, cp;
    size_t i;

    if (pm == NULL && docker != NULL)
        pm = agora_json_get(docker, "portMappings");
    if (nv != NULL && !YAJL_IS_NULL(nv)) {
        net = YAJL_IS_STRING(nv) ? nv->u.string : NULL;
        if (net == NULL || (strcmp(net, "HOST") != 0 &&
                            strcmp(net, "BRIDGE") != 0 &&
                            strcmp(net, "NONE") != 0)) {
            exec_errf(err, errlen, "container.docker.network: %s is not HOST, "
                              "BRIDGE or NONE", net ? net : "not a string");
            return -1;
        }
    }
    addf(a, "--net=%s", strcmp(net, "HOST") == 0     ? "host"
                        : strcmp(net, "BRIDGE") == 0 ? "bridge"
                                                     : "none");
    if (pm == NULL || YAJL_IS_NULL(pm))
        return 0;
    if (!YAJL_IS_ARRAY(pm)) {
        exec_errf(err, errlen, "container.portMappings: not an array");
        return -1;
    }
    if (pm->u.array.len > 0 && strcmp(net, "BRIDGE") != 0) {
        exec_errf(err, errlen, "container.portMappings: only with network "
                          "BRIDGE, not %s", net);
        return -1;
    }
    for (i = 0; i < pm->u.array.len; i++) {
        yajl_val m = pm->u.array.values[i];

        hp = cp = 0;
        proto = agora_json_get_str(m, "protocol");
        if (proto == NULL)
            proto = "tcp";
        if (agora_json_int(m, "hostPort", &hp) != 0 || hp < 1 || hp > 65535 ||
            agora_json_int(m, "containerPort", &cp) != 0 || cp < 1 ||
            cp > 65535) {
            exec_errf(err, errlen, "container.portMappings[%zu]: hostPort and "
                              "containerPort must be 1..65535 (a hostPort 0 "
                              "is the framework's to replace)", i);
            return -1;
        }
        if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0) {
            addf(a, "--publish=%lld:%lld/%s", (long long)hp, (long long)cp, proto);
        } else if (strcmp(proto, "udp,tcp") == 0 ||
                   strcmp(proto, "tcp,udp") == 0) {
            addf(a, "--publish=%lld:%lld/tcp", (long long)hp, (long long)cp);
            addf(a, "--publish=%lld:%lld/udp", (long long)hp, (long long)cp);
        } else {
            exec_errf(err, errlen,
                      "container.portMappings[%zu].protocol: %s is not tcp, "
                      "udp or udp,tcp",
                      i, proto);
            return -1;
        }
    }
    return 0;
}

static int add_volumes(struct dargv *a, const struct docker_task *t,
                       char *err, size_t errlen)
{
    yajl_val vols = agora_json_get(t->container, "volumes");
    const char *cp, *hp, *mode;
    size_t i;

    addf(a, "--volume=%s:%s", t->sandbox, DOCKER_SANDBOX_DIR);
    if (vols == NULL || YAJL_IS_NULL(vols))
        return 0;
    if (!YAJL_IS_ARRAY(vols)) {
        exec_errf(err, errlen, "container.volumes: not an array");
        return -1;
    }
    for (i = 0; i < vols->u.array.len; i++) {
        yajl_val v = vols->u.array.values[i];

        cp = agora_json_get_str(v, "containerPath");
        hp = agora_json_get_str(v, "hostPath");
        mode = agora_json_get_str(v, "mode");
        if (mode == NULL)
            mode = "RW";
        if (!volume_path_ok(cp) || !volume_path_ok(hp)) {
            exec_errf(err, errlen, "container.volumes[%zu]: containerPath and "
                              "hostPath must be absolute, without ':', ',' "
                              "or '..'", i);
            return -1;
        }
        if (!volume_allowed(hp, t->allowed_volume_paths)) {
            exec_errf(err, errlen, "container.volumes[%zu].hostPath: %s is "
                              "outside --allowed_volume_paths", i, hp);
            return -1;
        }
        if (strcmp(mode, "RO") != 0 && strcmp(mode, "RW") != 0) {
            exec_errf(err, errlen, "container.volumes[%zu].mode: %s is not RO "
                              "or RW", i, mode);
            return -1;
        }
        addf(a, "--volume=%s:%s:%s", hp, cp, strcmp(mode, "RO") == 0 ? "ro" : "rw");
    }
    return 0;
}

static int add_parameters(struct dargv *a, yajl_val ct, yajl_val docker,
                          char *err, size_t errlen)
{
    yajl_val ps = member(ct, docker, "parameters");
    const char *k, *v;
    size_t i;

    if (ps == NULL || YAJL_IS_NULL(ps))
        return 0;
    if (!YAJL_IS_ARRAY(ps)) {
        exec_errf(err, errlen, "container.docker.parameters: not an array");
        return -1;
    }
    for (i = 0; i < ps->u.array.len; i++) {
        k = agora_json_get_str(ps->u.array.values[i], "key");
        v = agora_json_get_str(ps->u.array.values[i], "value");
        if (!param_key_ok(k)) {
            exec_errf(err, errlen, "container.docker.parameters[%zu].key: "
                              "not a docker run option name "
                              "([a-z0-9][a-z0-9-]*)", i);
            return -1;
        }
        /* Options agora sets itself: a second one would override ours
         * (the name the shim stops, the sandbox, the limits). */
        if (strcmp(k, "name") == 0 || strcmp(k, "env-file") == 0 ||
            strcmp(k, "entrypoint") == 0 || strcmp(k, "privileged") == 0) {
            exec_errf(err, errlen,
                      "container.docker.parameters[%zu].key: %s is set by "
                      "the agent",
                      i, k);
            return -1;
        }
        if (v == NULL || has_control(v)) {
            exec_errf(err, errlen, "container.docker.parameters[%zu].value: "
                              "not a string of printable characters", i);
            return -1;
        }
        addf(a, "--%s=%s", k, v);
    }
    return 0;
}

/* Writes "K=V\n" lines for env (and Mesos' MESOS_SANDBOX and
 * MESOS_CONTAINER_NAME) to <sandbox>/.docker_env, created anew 0600. */
static int write_env_file(const struct docker_task *t, char *path,
                          size_t pathlen, char *err, size_t errlen)
{
    char *line;
    size_t i;
    int fd, rc = 0, n;

    if ((t->env_file ? (size_t)snprintf(path, pathlen, "%s", t->env_file)
                     : (size_t)snprintf(path, pathlen, "%s/%s", t->sandbox,
                                        DOCKER_ENV_FILE)) >= pathlen) {
        exec_errf(err, errlen, "sandbox path too long");
        return -1;
    }
    for (i = 0; t->env != NULL && t->env[i] != NULL; i++) {
        if (strchr(t->env[i], '=') == NULL || t->env[i][0] == '=' ||
            strchr(t->env[i], '\n') != NULL) {
            exec_errf(err, errlen, "environment variable %zu: not K=V on one "
                              "line (docker's --env-file cannot carry it)",
                 i);
            return -1;
        }
    }
    /* Anew: a file (or link) the task left there is not ours to write. */
    if (unlink(path) < 0 && errno != ENOENT) {
        exec_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0) {
        exec_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    n = asprintf(&line, "MESOS_SANDBOX=%s\nMESOS_CONTAINER_NAME=%s\n",
                 DOCKER_SANDBOX_DIR, t->name);
    if (n < 0 || exec_write_all(fd, line, (size_t)n) != 0)
        rc = -1;
    if (n >= 0)
        free(line);
    for (i = 0; rc == 0 && t->env != NULL && t->env[i] != NULL; i++) {
        if (exec_write_all(fd, t->env[i], strlen(t->env[i])) != 0 ||
            exec_write_all(fd, "\n", 1) != 0)
            rc = -1;
    }
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0)
        exec_errf(err, errlen, "%s: cannot write", path);
    return rc;
}

/* The command after the image. */
static int add_command(struct dargv *a, const struct docker_task *t,
                       char *err, size_t errlen)
{
    size_t i;

    if (t->command != NULL) {
        add(a, "-c");
        add(a, t->command);
        return 0;
    }
    if (t->argv == NULL || YAJL_IS_NULL(t->argv))
        return 0;
    if (!YAJL_IS_ARRAY(t->argv)) {
        exec_errf(err, errlen, "argv: not an array");
        return -1;
    }
    for (i = 0; i < t->argv->u.array.len; i++) {
        if (!YAJL_IS_STRING(t->argv->u.array.values[i])) {
            exec_errf(err, errlen, "argv[%zu]: not a string", i);
            return -1;
        }
        add(a, t->argv->u.array.values[i]->u.string);
    }
    return 0;
}

int docker_task_argv(const struct docker_task *t, char ***argv_out,
                     char *err, size_t errlen)
{
    struct dargv a = {0};
    yajl_val ct = t->container, docker, img, force;
    char env_path[4096];
    uint64_t shares, mem;

    *argv_out = NULL;
    if (!YAJL_IS_OBJECT(ct)) {
        exec_errf(err, errlen, "container: not an object");
        return -1;
    }
    docker = agora_json_get(ct, "docker");
    if (docker != NULL && !YAJL_IS_OBJECT(docker) && !YAJL_IS_NULL(docker)) {
        exec_errf(err, errlen, "container.docker: not an object");
        return -1;
    }
    if (!YAJL_IS_OBJECT(docker))
        docker = NULL;
    if (check_type(ct, docker, err, errlen) < 0)
        return -1;
    img = member(ct, docker, "image");
    if (!YAJL_IS_STRING(img) || !image_ok(img->u.string)) {
        exec_errf(err, errlen,
                  "container.docker.image: missing, or not an image reference");
        return -1;
    }
    if (t->sandbox == NULL || t->sandbox[0] != '/' ||
        !volume_path_ok(t->sandbox) || t->name == NULL ||
        !image_ok(t->name)) {
        exec_errf(err, errlen, "docker: bad sandbox or container name");
        return -1;
    }
    add(&a, t->docker ? t->docker : "docker");
    add(&a, "run");
    if (t->cpus > 0) {
        shares = (uint64_t)llround(t->cpus * 1024.0);
        addf(&a, "--cpu-shares=%llu",
             (unsigned long long)(shares < DOCKER_MIN_CPU_SHARES
                                      ? DOCKER_MIN_CPU_SHARES
                                      : shares));
    }
    if (t->mem_bytes > 0) {
        mem = t->mem_bytes < DOCKER_MIN_MEMORY ? DOCKER_MIN_MEMORY
                                               : t->mem_bytes;
        addf(&a, "--memory=%llu", (unsigned long long)mem);
    }
    if (add_volumes(&a, t, err, errlen) < 0 ||
        add_network(&a, ct, docker, err, errlen) < 0 ||
        add_parameters(&a, ct, docker, err, errlen) < 0)
        goto fail;
    force = member(ct, docker, "forcePullImage");
    if (YAJL_IS_TRUE(force))
        add(&a, "--pull=always");
    addf(&a, "--name=%s", t->name);
    if (t->command != NULL)
        add(&a, "--entrypoint=/bin/sh");
    if (t->dry_run)
        snprintf(env_path, sizeof(env_path), "%s/%s", t->sandbox,
                 DOCKER_ENV_FILE);
    else if (write_env_file(t, env_path, sizeof(env_path), err, errlen) < 0)
        goto fail;
    addf(&a, "--env-file=%s", env_path);
    add(&a, img->u.string);
    if (add_command(&a, t, err, errlen) < 0)
        goto fail;
    if (finish(&a, argv_out) < 0) {
        exec_errf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
fail:
    docker_argv_free(a.v);
    return -1;
}

int docker_stop_argv(const char *docker, const char *name, double grace,
                     char ***argv_out)
{
    struct dargv a = {0};

    if (name == NULL || !image_ok(name))
        return -1;
    add(&a, docker ? docker : "docker");
    add(&a, "stop");
    addf(&a, "-t=%lld", (long long)(grace > 0 ? ceil(grace) : 0));
    add(&a, name);
    return finish(&a, argv_out);
}

int docker_exec_argv(const char *docker, const char *name, const char *command,
                     char ***argv_out)
{
    struct dargv a = {0};

    if (name == NULL || !image_ok(name) || command == NULL)
        return -1;
    add(&a, docker ? docker : "docker");
    add(&a, "exec");
    add(&a, name);
    add(&a, "sh");
    add(&a, "-c");
    add(&a, command);
    return finish(&a, argv_out);
}

int docker_rm_argv(const char *docker, const char *name, char ***argv_out)
{
    struct dargv a = {0};

    if (name == NULL || !image_ok(name))
        return -1;
    add(&a, docker ? docker : "docker");
    add(&a, "rm");
    add(&a, "-f");
    add(&a, "-v");
    add(&a, name);
    return finish(&a, argv_out);
}

int docker_inspect_argv(const char *docker, const char *name,
                        char ***argv_out)
{
    struct dargv a = {0};

    if (name == NULL || !image_ok(name))
        return -1;
    add(&a, docker ? docker : "docker");
    add(&a, "inspect");
    add(&a, "--type=container");
    add(&a, "--format={{.State.Pid}} {{.NetworkSettings.IPAddress}}");
    add(&a, name);
    return finish(&a, argv_out);
}
