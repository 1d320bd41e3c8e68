/*
 * exec_user.c - the users tasks run as: uid, gid and supplementary groups
 * from the passwd and group databases, kept EXEC_USER_TTL seconds.
 *
 * Every launch as a user looked it up on the loop (getpwnam_r) and its
 * shim looked up the groups again (getgrouplist): NSS's modules loaded and
 * relocated anew in each shim, the launcher's fork of every shim larger
 * by them, a fifth of a shim's CPU in a burst. Now a user is looked up
 * once per TTL and its shim is given the groups to set. A change to a
 * user's groups applies to the tasks launched after the TTL (nscd keeps
 * them an hour); a user not found is not kept.
 *
 * The lookups run on the loop, as getpwnam_r did at every launch before:
 * files and systemd's NSS answer in microseconds; a remote directory
 * (LDAP, sssd) is asked once per user per TTL.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec_int.h"

#define EXEC_USER_TTL 10.0    /* seconds */
#define EXEC_USERS_MAX 64     /* users kept; the oldest goes first */

struct exec_users {
    struct user_entry {
        char *name;
        double expires;
        struct exec_user u;
    } e[EXEC_USERS_MAX];
    size_t n;
};

static void entry_free(struct user_entry *e)
{
    free(e->name);
    free(e->u.groups);
    memset(e, 0, sizeof(*e));
}

/* name's groups, as initgroups() would set them: 0, or -errno. */
static int lookup_groups(const char *name, gid_t gid, struct exec_user *u)
{
    int n = 32;

    while (n <= EXEC_GROUPS_MAX) {
        gid_t *g = realloc(u->groups, (size_t)n * sizeof(*g));
        int want = n;

        if (!g)
            return -ENOMEM;
        u->groups = g;
        if (getgrouplist(name, gid, g, &want) >= 0) {
            u->ngroups = want;
            return 0;
        }
        n = want > n ? want : n * 2;
    }
    return -E2BIG;
}

static int lookup(const char *name, struct exec_user *u)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

    if (rc != 0)
        return -rc;
    if (!res)
        return -ENOENT;
    u->uid = res->pw_uid;
    u->gid = res->pw_gid;
    return lookup_groups(name, u->gid, u);
}

/* name's entry, still valid at now, or NULL. */
static struct user_entry *find(struct exec_users *us, const char *name,
                               double now)
{
    for (size_t i = 0; i < us->n; i++)
        if (strcmp(us->e[i].name, name) == 0)
            return us->e[i].expires > now ? &us->e[i] : NULL;
    return NULL;
}

/* The entry name goes in, emptied: its expired one, a new one, or the
 * one that expires first. */
static struct user_entry *slot(struct exec_users *us, const char *name)
{
    struct user_entry *e = NULL;

    for (size_t i = 0; i < us->n && !e; i++)
        if (strcmp(us->e[i].name, name) == 0)
            e = &us->e[i];
    if (!e && us->n < EXEC_USERS_MAX)
        e = &us->e[us->n++];
    if (!e) {
        e = &us->e[0];
        for (size_t i = 1; i < us->n; i++)
            if (us->e[i].expires < e->expires)
                e = &us->e[i];
    }
    entry_free(e);
    return e;
}

int exec_user_get(struct exec *x, const char *name, const struct exec_user **u)
{
    double now = x->loop ? ev_now(x->loop) : (double)time(NULL);
    struct exec_user got = {0, 0, NULL, 0};
    struct user_entry *e;
    char *copy = NULL;
    int rc;

    if (!x->users && !(x->users = calloc(1, sizeof(*x->users))))
        return -ENOMEM;
    if ((e = find(x->users, name, now))) {
        *u = &e->u;
        return 0;
    }
    if ((rc = lookup(name, &got)) != 0 || !(copy = strdup(name))) {
        free(got.groups);
        return rc ? rc : -ENOMEM;
    }
    e = slot(x->users, name);
    e->name = copy;
    e->u = got;
    e->expires = now + EXEC_USER_TTL;
    *u = &e->u;
    return 0;
}

void exec_users_free(struct exec *x)
{
    if (!x->users)
        return;
    for (size_t i = 0; i < x->users->n; i++)
        entry_free(&x->users->e[i]);
    free(x->users);
    x->users = NULL;
}
