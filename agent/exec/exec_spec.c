/*
 * exec_spec.c - a task's spec as the exec layer reads it (command, argv,
 * env, user, kill grace, resources, health check; see task.h and
 * exec_int.h), and the environment a task runs with.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "docker.h"
#include "exec_int.h"
#include "map.h"

#define MIN_MEMORY (32ull << 20) /* Mesos' smallest memory limit */
#define SPEC_MEM_MAX_MB 17592186044416.0 /* 2^44 MB: 2^64 bytes */
#define SPEC_CPUS_MAX 4294967296.0       /* 2^32: shares, quota in range */

static int spec_resources(struct exec_spec *s, const struct agent_task *t,
                          yajl_val spec, char *err, size_t errlen)
{
    const struct agora_resources *r = &t->resources;
    const char *text;
    size_t nports = 0;
    double mem;

    if (r->n == 0 && agora_json_str(spec, "resources", &text) == 0 && *text) {
        char why[256];
        if (agora_resources_parse(text, &s->own, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "invalid resources: %s", why);
            return AGORA_EINVAL;
        }
        r = &s->own;
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];
        if ((!strcmp(x->name, "cpus") || !strcmp(x->name, "mem")) &&
            x->type != AGORA_SCALAR) {
            snprintf(err, errlen, "invalid resources: %s must be a scalar",
                     x->name);
            return AGORA_EINVAL;
        }
        if (strcmp(x->name, "ports") != 0)
            continue;
        if (x->type != AGORA_RANGES) {
            snprintf(err, errlen, "invalid resources: ports must be ranges");
            return AGORA_EINVAL;
        }
        for (size_t k = 0; k < x->nranges; k++) {
            if (x->ranges[k].begin < 1 || x->ranges[k].end > 65535) {
                snprintf(err, errlen,
                         "invalid resources: port %" PRIu64 " out of range",
                         x->ranges[k].begin < 1 ? x->ranges[k].begin
                                                : x->ranges[k].end);
                return AGORA_EINVAL;
            }
            nports += x->ranges[k].end - x->ranges[k].begin + 1;
        }
    }
    if (nports > 65535) {
        snprintf(err, errlen, "invalid resources: too many ports");
        return AGORA_EINVAL;
    }
    if (nports && !(s->ports = malloc(nports * sizeof(*s->ports))))
        return AGORA_ENOMEM;
    for (size_t i = 0; i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];
        if (strcmp(x->name, "ports") != 0)
            continue;
        for (size_t k = 0; k < x->nranges; k++)
            for (uint64_t p = x->ranges[k].begin; p <= x->ranges[k].end; p++)
                s->ports[s->nports++] = (uint32_t)p;
    }
    s->cpus = agora_resources_scalar(r, "cpus");
    mem = agora_resources_scalar(r, "mem");
    /* Past these, bytes, shares and quotas are out of range of the
     * integers they become (undefined, found by fuzz_agent_proto). */
    if (!(mem < SPEC_MEM_MAX_MB) || !(s->cpus < SPEC_CPUS_MAX)) {
        snprintf(err, errlen, "invalid resources: %s",
                 mem < SPEC_MEM_MAX_MB ? "cpus over 2^32" : "mem over 2^44 MB");
        return AGORA_EINVAL;
    }
    if (mem > 0) {
        s->mem_bytes = (uint64_t)(mem * 1048576.0);
        if (s->mem_bytes < MIN_MEMORY)
            s->mem_bytes = MIN_MEMORY;
    }
    return 0;
}

static int spec_user(struct exec *x, struct exec_spec *s, char *err,
                     size_t errlen)
{
    const struct exec_user *u;
    int rc = exec_user_get(x, s->user, &u);

    if (rc == -ENOMEM)
        return AGORA_ENOMEM;
    if (rc != 0) {
        snprintf(err, errlen, "user '%s' does not exist on this agent%s%s",
                 s->user, rc != -ENOENT ? ": " : "",
                 rc != -ENOENT ? strerror(-rc) : "");
        return AGORA_EINVAL;
    }
    if (!x->is_root) {
        if (u->uid == geteuid())
            return 0;
        snprintf(err, errlen,
                 "cannot run as user '%s': the agent does not run as root",
                 s->user);
        return AGORA_EINVAL;
    }
    if (!(s->groups = malloc((size_t)u->ngroups * sizeof(*s->groups))))
        return AGORA_ENOMEM;
    memcpy(s->groups, u->groups, (size_t)u->ngroups * sizeof(*s->groups));
    s->ngroups = u->ngroups;
    s->uid = u->uid;
    s->gid = u->gid;
    s->switch_user = 1;
    return 0;
}

static int spec_command(struct exec_spec *s, yajl_val spec, char *err,
                        size_t errlen)
{
    yajl_val argv = agora_json_get(spec, "argv");
    int rc = agora_json_str(spec, "command", &s->command);

    if (rc == AGORA_EINVAL) {
        snprintf(err, errlen, "\"command\" must be a string");
        return AGORA_EINVAL;
    }
    if (rc == 0 && !*s->command)
        s->command = NULL;
    if (argv && !YAJL_IS_NULL(argv)) {
        if (!YAJL_IS_ARRAY(argv) || argv->u.array.len == 0) {
            snprintf(err, errlen, "\"argv\" must be a non-empty array");
            return AGORA_EINVAL;
        }
        for (size_t i = 0; i < argv->u.array.len; i++) {
            if (!YAJL_IS_STRING(argv->u.array.values[i])) {
                snprintf(err, errlen, "\"argv\" must hold strings only");
                return AGORA_EINVAL;
            }
        }
        if (!*YAJL_GET_STRING(argv->u.array.values[0])) {
            snprintf(err, errlen, "\"argv\"[0] is empty");
            return AGORA_EINVAL;
        }
        if (s->command) {
            snprintf(err, errlen, "give \"command\" or \"argv\", not both");
            return AGORA_EINVAL;
        }
        s->argv = argv;
    }
    /* An image brings its own Entrypoint and Cmd. */
    if (!s->command && !s->argv && !s->docker &&
        !(s->has_ctr && s->ctr.image)) {
        snprintf(err, errlen,
                 "the task has no command (\"command\" or "
                 "\"argv\")");
        return AGORA_EINVAL;
    }
    return 0;
}

static int spec_env(struct exec_spec *s, yajl_val spec, char *err,
                    size_t errlen)
{
    yajl_val env = agora_json_get(spec, "env");

    if (!env || YAJL_IS_NULL(env))
        return 0;
    if (!YAJL_IS_OBJECT(env)) {
        snprintf(err, errlen, "\"env\" must be an object");
        return AGORA_EINVAL;
    }
    for (size_t i = 0; i < env->u.object.len; i++) {
        const char *k = env->u.object.keys[i];
        if (!*k || strchr(k, '=')) {
            snprintf(err, errlen, "env: invalid variable name '%s'", k);
            return AGORA_EINVAL;
        }
        if (!YAJL_IS_STRING(env->u.object.values[i])) {
            snprintf(err, errlen, "env: %s must be a string", k);
            return AGORA_EINVAL;
        }
    }
    s->env = env;
    return 0;
}

/*
 * The spec's `container` (container_spec.c). A container without an
 * image runs on the host's file system as a command task: only with the
 * HOST network and no volumes, which need a rootfs of their own here.
 */
/* A type DOCKER container when the docker CLI reached an engine: its
 * `docker run` built once without writing anything, so that what docker
 * cannot take is TASK_ERROR naming the field (the shim builds it again,
 * with the environment file). */
int exec_runs_docker(const struct exec *x, yajl_val container)
{
    const char *type = agora_json_get_str(container, "type");

    return x->docker_cli && type && strcmp(type, "DOCKER") == 0;
}

int exec_docker_task(const struct exec *x, const struct agent_task *t,
                     yajl_val spec, char name[EXEC_DOCKER_NAME],
                     struct docker_task *d)
{
    yajl_val av = agora_json_get(spec, "argv");

    if (docker_name(t->id, name, EXEC_DOCKER_NAME) != 0)
        return -1;
    *d = (struct docker_task){
        .docker = x->docker_cli,
        .container = agora_json_get(spec, "container"),
        .name = name,
        .command = agora_json_get_str(spec, "command"),
        .argv = YAJL_IS_ARRAY(av) ? av : NULL,
        .sandbox = t->sandbox ? t->sandbox : "/nonexistent",
        .allowed_volume_paths = x->allowed_volume_paths,
    };
    return 0;
}

static int spec_docker(struct exec *x, const struct agent_task *t,
                       struct exec_spec *s, yajl_val spec, char *err,
                       size_t errlen)
{
    char name[EXEC_DOCKER_NAME], **argv = NULL;
    struct docker_task d;

    if (exec_docker_task(x, t, spec, name, &d) != 0) {
        snprintf(err, errlen, "the task id makes no docker container name");
        return AGORA_EINVAL;
    }
    d.dry_run = 1;
    if (docker_task_argv(&d, &argv, err, errlen) != 0)
        return AGORA_EINVAL;
    docker_argv_free(argv);
    s->docker = 1;
    return 0;
}

static int spec_container(struct exec *x, const struct agent_task *t,
                          struct exec_spec *s, yajl_val spec, char *err,
                          size_t errlen)
{
    yajl_val c = agora_json_get(spec, "container");
    int rc;

    if (!c || YAJL_IS_NULL(c))
        return 0;
    if (exec_runs_docker(x, c))
        return spec_docker(x, t, s, spec, err, errlen);
    rc = ctr_spec_parse(c, x->allowed_volume_paths,
                        t->sandbox ? t->sandbox : "/nonexistent", &s->ctr,
                        err, errlen);
    if (rc != 0)
        return rc;
    if (!s->ctr.image) {
        if (s->ctr.net != CTR_NET_HOST || s->ctr.nvolumes) {
            snprintf(err, errlen, "container.%s needs an image on this agent",
                     s->ctr.nvolumes ? "volumes" : "docker.network BRIDGE");
            return AGORA_EINVAL;
        }
        return 0;
    }
    if (!x->images_dir) {
        snprintf(err, errlen, "this agent runs no containers (no work_dir)");
        return AGORA_EINVAL;
    }
    /* Namespaces, mounts and pivot_root are root's (no user namespaces
     * here: see docs/containers.md). */
    if (!x->is_root) {
        snprintf(err, errlen, "container images need an agent running as "
                              "root");
        return AGORA_EINVAL;
    }
    s->has_ctr = 1;
    return 0;
}

/* The container's user (the task's, else the image's) in s. */
static int image_user(struct exec *x, struct exec_spec *s, char *err,
                      size_t errlen)
{
    const char *user = s->user ? s->user : ctr_cmd_user(s->img.config);
    char *passwd, *group;
    int rc;

    if (!user)
        return 0;
    passwd = ctr_image_etc_file(&s->img, "passwd");
    group = ctr_image_etc_file(&s->img, "group");
    rc = ctr_cmd_user_resolve(user, passwd, group, &s->uid, &s->gid, err,
                              errlen);
    free(passwd);
    free(group);
    if (rc != 0)
        return rc;
    if (!x->is_root && s->uid != geteuid()) {
        snprintf(err, errlen,
                 "cannot run as user '%s': the agent does not run as root",
                 user);
        return AGORA_EINVAL;
    }
    s->user = user;
    s->switch_user = x->is_root;
    return 0;
}

static void env_check_cb(void *arg, const char *key, const char *value)
{
    (void)arg, (void)key, (void)value;
}

int exec_spec_image(struct exec *x, struct exec_spec *s, char *err,
                    size_t errlen)
{
    char why[512] = "";
    int rc;

    if (!s->has_ctr)
        return 0;
    rc = ctr_image_load(x->images_dir, s->ctr.image, &s->img, why,
                        sizeof(why));
    if (rc == AGORA_ENOENT) {
        snprintf(err, errlen,
                 "image '%s' is not in the agent's image store",
                 s->ctr.image);
        return AGORA_ENOENT;
    }
    if (rc != 0) {
        snprintf(err, errlen, "image '%s': %s", s->ctr.image,
                 rc == AGORA_ENOMEM ? "out of memory" : why);
        return rc == AGORA_ENOMEM ? rc : AGORA_EIO;
    }
    if ((rc = ctr_cmd_argv(s->command, s->argv, s->img.config, &s->ctr_argv,
                           err, errlen)) != 0)
        return rc;
    s->ctr_workdir = ctr_cmd_workdir(s->img.config);
    if ((rc = ctr_cmd_env(s->img.config, env_check_cb, NULL, err,
                          errlen)) != 0)
        return rc;
    return image_user(x, s, err, errlen);
}

/* t's spec parsed into s->tree (the task keeps only its text). */
static yajl_val spec_tree(const struct agent_task *t, struct exec_spec *s)
{
    char why[128];

    if (t->spec_json)
        s->tree = agora_json_parse(t->spec_json, why, sizeof(why));
    return s->tree;
}

const char *exec_task_user(const struct exec *x, yajl_val spec)
{
    const char *user = agora_json_get_str(spec, "user");

    if (!x->switch_user)
        return NULL;
    return user && *user ? user : x->default_user;
}

int exec_spec_parse(struct exec *x, const struct agent_task *t,
                    struct exec_spec *s, char *err, size_t errlen)
{
    yajl_val spec, v;
    int rc;

    memset(s, 0, sizeof(*s));
    s->grace = EXEC_DEFAULT_GRACE;
    if (!agora_id_valid(t->id, AGORA_ID_MAX)) {
        snprintf(err, errlen, "invalid task id");
        return AGORA_EINVAL;
    }
    spec = spec_tree(t, s);
    if (!YAJL_IS_OBJECT(spec)) {
        snprintf(err, errlen, "the task spec is not an object");
        return AGORA_EINVAL;
    }
    if ((rc = spec_container(x, t, s, spec, err, errlen)) != 0 ||
        (rc = spec_command(s, spec, err, errlen)) != 0 ||
        (rc = spec_env(s, spec, err, errlen)) != 0)
        return rc;
    v = agora_json_get(spec, "user");
    if (v && !YAJL_IS_NULL(v) && !YAJL_IS_STRING(v)) {
        snprintf(err, errlen, "\"user\" must be a string");
        return AGORA_EINVAL;
    }
    if (s->docker) {
        s->user = NULL; /* the docker CLI runs as the agent (root) */
    } else if (s->has_ctr) {
        /* A container's user: the one the task names, else its image's
         * (resolved in the image: exec_spec_image). */
        s->user = x->switch_user ? agora_json_get_str(spec, "user") : NULL;
        if (s->user && !*s->user)
            s->user = NULL;
    } else if ((s->user = exec_task_user(x, spec)) != NULL &&
               (rc = spec_user(x, s, err, errlen)) != 0) {
        return rc;
    }
    rc = agora_json_num(spec, "kill_grace_period", &s->grace);
    if (rc == AGORA_EINVAL || !(s->grace >= 0) || s->grace > 86400 * 7) {
        snprintf(err, errlen,
                 "\"kill_grace_period\" must be a number of "
                 "seconds >= 0");
        return AGORA_EINVAL;
    }
    if ((rc = spec_resources(s, t, spec, err, errlen)) != 0)
        return rc;
    v = agora_json_get(spec, "health_check");
    if (v && !YAJL_IS_NULL(v)) {
        char why[256];
        if (health_conf_parse(v, s->ports, s->nports, &s->hc, why,
                              sizeof(why)) != 0) {
            snprintf(err, errlen, "invalid health check: %s", why);
            return AGORA_EINVAL;
        }
        s->has_health = 1;
    }
    return 0;
}

void exec_spec_free(struct exec_spec *s)
{
    free(s->groups);
    free(s->ports);
    free(s->ctr_argv);
    ctr_image_free(&s->img);
    ctr_spec_free(&s->ctr);
    agora_resources_free(&s->own);
    if (s->tree)
        yajl_tree_free(s->tree);
    memset(s, 0, sizeof(*s));
}

/* ---- the environment ---- */

/*
 * The environment being built, and where each key is in it: a task may
 * have up to 65,535 ports, each a PORTn variable, and a scan of the
 * array per variable made a launch O(ports^2) on the loop (10,000 ports:
 * 50 million comparisons; found by tests/fuzz/fuzz_agent_proto).
 */
struct envb {
    char **v;
    size_t n, cap;
    struct map at; /* key -> index in v, plus one */
    int oom;
};

/* Sets key=value, replacing an earlier value of key. */
static void env_set(struct envb *e, const char *key, const char *value)
{
    void *at;
    char *kv;

    if (e->oom)
        return;
    if (asprintf(&kv, "%s=%s", key, value) < 0) {
        e->oom = 1;
        return;
    }
    if ((at = map_get(&e->at, key)) != NULL) {
        size_t i = (size_t)(uintptr_t)at - 1;

        free(e->v[i]);
        e->v[i] = kv;
        return;
    }
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        char **nv = realloc(e->v, cap * sizeof(*nv));
        if (!nv) {
            free(kv);
            e->oom = 1;
            return;
        }
        e->v = nv;
        e->cap = cap;
    }
    if (map_put(&e->at, key, (void *)(uintptr_t)(e->n + 1), NULL) < 0) {
        free(kv);
        e->oom = 1;
        return;
    }
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
}

static void env_set_cb(void *arg, const char *key, const char *value)
{
    env_set(arg, key, value);
}

/*
 * What a task sees, as Mesos and Marathon set it: PATH (the agent's, or a
 * default), HOME, AGORA_SANDBOX, MESOS_SANDBOX, MESOS_TASK_ID,
 * MESOS_AGENT_ID, HOST, PORT0..PORTn, PORT, PORTS; then the spec's env,
 * which wins. Nothing else of the agent's environment. A container task
 * starts from Docker's PATH and its image's Env instead of the agent's
 * PATH and HOME, and its sandbox is CTR_SANDBOX.
 */
char **exec_task_env(struct exec *x, const struct agent_task *t,
                     const struct exec_spec *s)
{
    struct envb e = {NULL, 0, 0, MAP_INIT, 0};
    const char *sandbox = s->has_ctr || s->docker ? CTR_SANDBOX : t->sandbox;
    char key[32], val[32], why[128];

    if (s->has_ctr) {
        /* Docker's PATH, then the image's Env (its PATH, HOME...). */
        env_set(&e, "PATH", CTR_DEFAULT_PATH);
        env_set(&e, "HOME", "/");
        if (ctr_cmd_env(s->img.config, env_set_cb, &e, why, sizeof(why)) != 0)
            e.oom = 1;
    } else if (!s->docker) { /* docker: the image's own PATH and HOME */
        env_set(&e, "PATH", x->path);
        env_set(&e, "HOME", t->sandbox);
    }
    env_set(&e, "AGORA_SANDBOX", sandbox);
    env_set(&e, "MESOS_SANDBOX", sandbox);
    env_set(&e, "MESOS_TASK_ID", t->id);
    if (x->agent_id)
        env_set(&e, "MESOS_AGENT_ID", x->agent_id);
    env_set(&e, "HOST", x->hostname);
    if (s->nports) {
        size_t len = s->nports * 6 + 1;
        char *ports = malloc(len), *p = ports;

        if (!ports)
            e.oom = 1;
        for (size_t i = 0; ports && i < s->nports; i++) {
            snprintf(key, sizeof(key), "PORT%zu", i);
            snprintf(val, sizeof(val), "%" PRIu32, s->ports[i]);
            env_set(&e, key, val);
            p += sprintf(p, "%s%s", i ? "," : "", val);
        }
        if (ports) {
            snprintf(val, sizeof(val), "%" PRIu32, s->ports[0]);
            env_set(&e, "PORT", val);
            env_set(&e, "PORTS", ports);
            free(ports);
        }
    }
    for (size_t i = 0; s->env && i < s->env->u.object.len; i++)
        env_set(&e, s->env->u.object.keys[i],
                YAJL_GET_STRING(s->env->u.object.values[i]));
    map_free(&e.at);
    if (e.oom || !e.v) {
        exec_strv_free(e.v);
        return NULL;
    }
    return e.v;
}
