/*
 * container_cmd.c - what a container task runs, as Docker and Mesos
 * decide it from the task and its image's config (container.h): the
 * argv, the image's Env under the task's, WorkingDir, User.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "container.h"

#define CTR_ARGV_MAX 65536

/* A config member that must be an array of strings (or absent/null). */
static int strings_of(yajl_val config, const char *key, yajl_val *out,
                      char *err, size_t errlen)
{
    yajl_val v = agora_json_get(config, key);

    *out = NULL;
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (!YAJL_IS_ARRAY(v) || v->u.array.len > CTR_ARGV_MAX) {
        snprintf(err, errlen, "the image's %s must be an array of strings",
                 key);
        return AGORA_EINVAL;
    }
    for (size_t i = 0; i < v->u.array.len; i++) {
        if (!YAJL_IS_STRING(v->u.array.values[i])) {
            snprintf(err, errlen,
                     "the image's %s must be an array of strings", key);
            return AGORA_EINVAL;
        }
    }
    *out = v;
    return 0;
}

static size_t len_of(yajl_val a)
{
    return a ? a->u.array.len : 0;
}

int ctr_cmd_argv(const char *command, yajl_val args, yajl_val config,
                 const char ***argv, char *err, size_t errlen)
{
    yajl_val ep = NULL, cmd = NULL, tail;
    const char **v;
    size_t n = 0, k = 0;
    int rc;

    *argv = NULL;
    if (command) {
        if (!(v = calloc(4, sizeof(*v))))
            return AGORA_ENOMEM;
        v[0] = "/bin/sh";
        v[1] = "-c";
        v[2] = command;
        *argv = v;
        return 0;
    }
    if ((rc = strings_of(config, "Entrypoint", &ep, err, errlen)) != 0 ||
        (rc = strings_of(config, "Cmd", &cmd, err, errlen)) != 0)
        return rc;
    tail = args ? args : cmd;
    n = len_of(ep) + len_of(tail);
    if (n == 0) {
        snprintf(err, errlen, "nothing to run: the task has no cmd or args "
                              "and the image no Entrypoint or Cmd");
        return AGORA_EINVAL;
    }
    if (!(v = calloc(n + 1, sizeof(*v))))
        return AGORA_ENOMEM;
    for (size_t i = 0; i < len_of(ep); i++)
        v[k++] = YAJL_GET_STRING(ep->u.array.values[i]);
    for (size_t i = 0; i < len_of(tail); i++)
        v[k++] = YAJL_GET_STRING(tail->u.array.values[i]);
    if (!*v[0]) {
        free(v);
        snprintf(err, errlen, "nothing to run: the program's name is empty");
        return AGORA_EINVAL;
    }
    *argv = v;
    return 0;
}

const char *ctr_cmd_workdir(yajl_val config)
{
    const char *w = agora_json_get_str(config, "WorkingDir");

    return w && w[0] == '/' ? w : "/";
}

const char *ctr_cmd_user(yajl_val config)
{
    const char *u = agora_json_get_str(config, "User");

    return u && *u ? u : NULL;
}

int ctr_cmd_env(yajl_val config,
                void (*set)(void *arg, const char *key, const char *value),
                void *arg, char *err, size_t errlen)
{
    yajl_val env;
    char key[256];
    int rc;

    if ((rc = strings_of(config, "Env", &env, err, errlen)) != 0)
        return rc;
    for (size_t i = 0; i < len_of(env); i++) {
        const char *kv = YAJL_GET_STRING(env->u.array.values[i]);
        const char *eq = strchr(kv, '=');

        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
            snprintf(err, errlen, "the image's Env[%zu] is not KEY=value", i);
            return AGORA_EINVAL;
        }
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        set(arg, key, eq + 1);
    }
    return 0;
}

/* A decimal id of at most 2^31 - 1; -1 when s is not one. */
static long id_of(const char *s, size_t len)
{
    long v = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 0x7fffffffL ? v : -1;
}

/*
 * Looks name (len bytes) up in the text of a passwd or group file:
 * fields name:x:id:gid...; 0 with *id (and *gid for passwd), else -1.
 */
static int db_lookup(const char *db, const char *name, size_t len, long *id,
                     long *gid)
{
    for (const char *l = db; l && *l;) {
        const char *end = strchr(l, '\n');
        const char *f[4] = {l, NULL, NULL, NULL};
        size_t ll = end ? (size_t)(end - l) : strlen(l), nf = 1;

        for (const char *c = l; c < l + ll && nf < 4; c++)
            if (*c == ':')
                f[nf++] = c + 1;
        if (nf == 4 && (size_t)(f[1] - 1 - l) == len &&
            !memcmp(l, name, len)) {
            const char *e2 = memchr(f[2], ':', (size_t)(l + ll - f[2]));
            const char *e3 = memchr(f[3], ':', (size_t)(l + ll - f[3]));
            *id = id_of(f[2], e2 ? (size_t)(e2 - f[2]) : 0);
            if (gid)
                *gid = id_of(f[3], e3 ? (size_t)(e3 - f[3])
                                      : (size_t)(l + ll - f[3]));
            return *id >= 0 && (!gid || *gid >= 0) ? 0 : -1;
        }
        l = end ? end + 1 : NULL;
    }
    return -1;
}

/* The group of the passwd entry of uid u, 0 (root's) when none. */
static long uid_group(const char *db, long u)
{
    for (const char *l = db; l && *l;) {
        const char *c1 = strchr(l, ':');
        long lu, lg;

        if (c1 && db_lookup(l, l, (size_t)(c1 - l), &lu, &lg) == 0 && lu == u)
            return lg;
        l = strchr(l, '\n');
        l = l ? l + 1 : NULL;
    }
    return 0;
}

int ctr_cmd_user_resolve(const char *user, const char *passwd,
                         const char *group, uid_t *uid, gid_t *gid, char *err,
                         size_t errlen)
{
    const char *colon = strchr(user, ':');
    size_t ulen = colon ? (size_t)(colon - user) : strlen(user);
    long u = id_of(user, ulen), g = -1, pg = -1;

    if (u < 0) {
        if (db_lookup(passwd, user, ulen, &u, &pg) != 0) {
            snprintf(err, errlen,
                     "user '%.*s' is not in the container's /etc/passwd",
                     (int)ulen, user);
            return AGORA_EINVAL;
        }
    } else {
        pg = uid_group(passwd, u);
    }
    if (colon) {
        const char *gs = colon + 1;
        if ((g = id_of(gs, strlen(gs))) < 0 &&
            db_lookup(group, gs, strlen(gs), &g, NULL) != 0) {
            snprintf(err, errlen,
                     "group '%s' is not in the container's /etc/group", gs);
            return AGORA_EINVAL;
        }
    }
    *uid = (uid_t)u;
    *gid = (gid_t)(g >= 0 ? g : pg);
    return 0;
}
