/*
 * mar_app_copy.c - deep copies and the freeing of app definitions.
 * Every pointer of struct mar_app is owned by the app; a copy shares
 * nothing with its original.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"
#include "mar_constraint.h"

/* Copies of strings of the app: *ok drops to 0 when one that exists
 * could not be copied. */
static char *cp(const char *s, int *ok)
{
    char *d = mar_strdup(s);

    if (s && !d)
        *ok = 0;
    return d;
}

/* A malloc'ed copy of n elements of size sz, or NULL (none, or out of
 * memory, then *ok is 0). */
static void *cp_mem(const void *src, size_t n, size_t sz, int *ok)
{
    void *d;

    if (!src || n == 0)
        return NULL;
    d = calloc(n, sz);
    if (!d) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, src, n * sz);
    return d;
}

/* n strings and a NULL (args is a launch's argv); an empty vector stays
 * a vector (args [] is not null). */
static char **cp_strv(char *const *v, size_t n, int *ok)
{
    char **d;
    size_t i;

    if (!v)
        return NULL;
    d = calloc(n + 1, sizeof(*d));
    if (!d) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++)
        d[i] = cp(v[i], ok);
    return d;
}

static struct mar_kv *cp_kv(const struct mar_kv *kv, size_t n, int *ok)
{
    struct mar_kv *d = cp_mem(kv, n, sizeof(*kv), ok);
    size_t i;

    for (i = 0; d && i < n; i++) {
        d[i].key = cp(kv[i].key, ok);
        d[i].value = cp(kv[i].value, ok);
    }
    return d;
}

static void cp_ports(struct mar_app *d, const struct mar_app *a, int *ok)
{
    size_t i;

    d->port_defs =
        cp_mem(a->port_defs, a->nport_defs, sizeof(*a->port_defs), ok);
    for (i = 0; d->port_defs && i < a->nport_defs; i++) {
        d->port_defs[i].protocol = cp(a->port_defs[i].protocol, ok);
        d->port_defs[i].name = cp(a->port_defs[i].name, ok);
        d->port_defs[i].labels =
            cp_kv(a->port_defs[i].labels, a->port_defs[i].nlabels, ok);
    }
    d->port_mappings = cp_mem(a->port_mappings, a->nport_mappings,
                              sizeof(*a->port_mappings), ok);
    for (i = 0; d->port_mappings && i < a->nport_mappings; i++) {
        d->port_mappings[i].protocol = cp(a->port_mappings[i].protocol, ok);
        d->port_mappings[i].name = cp(a->port_mappings[i].name, ok);
        d->port_mappings[i].labels =
            cp_kv(a->port_mappings[i].labels, a->port_mappings[i].nlabels, ok);
    }
}

static void cp_lists(struct mar_app *d, const struct mar_app *a, int *ok)
{
    size_t i;

    d->fetch = cp_mem(a->fetch, a->nfetch, sizeof(*a->fetch), ok);
    for (i = 0; d->fetch && i < a->nfetch; i++) {
        d->fetch[i].uri = cp(a->fetch[i].uri, ok);
        d->fetch[i].dest_path = cp(a->fetch[i].dest_path, ok);
    }
    d->health_checks = cp_mem(a->health_checks, a->nhealth_checks,
                              sizeof(*a->health_checks), ok);
    for (i = 0; d->health_checks && i < a->nhealth_checks; i++) {
        d->health_checks[i].path = cp(a->health_checks[i].path, ok);
        d->health_checks[i].command = cp(a->health_checks[i].command, ok);
        d->health_checks[i].ip_protocol =
            cp(a->health_checks[i].ip_protocol, ok);
    }
    d->args = cp_strv(a->args, a->nargs, ok);
    d->accepted_roles = cp_strv(a->accepted_roles, a->naccepted_roles, ok);
    d->dependencies = cp_strv(a->dependencies, a->ndependencies, ok);
    d->env = cp_kv(a->env, a->nenv, ok);
    d->labels = cp_kv(a->labels, a->nlabels, ok);
    if (a->nconstraints && mar_constraints_dup(a->constraints, a->nconstraints,
                                               &d->constraints) != 0) {
        d->constraints = NULL;
        *ok = 0;
    }
}

/* Every string the app owns outside its lists, as an array of offsets
 * so that copy and free walk the same table. */
static const size_t app_strings[] = {
    offsetof(struct mar_app, id),
    offsetof(struct mar_app, version),
    offsetof(struct mar_app, last_scaling_at),
    offsetof(struct mar_app, last_config_change_at),
    offsetof(struct mar_app, cmd),
    offsetof(struct mar_app, user),
    offsetof(struct mar_app, executor),
    offsetof(struct mar_app, container_json),
    offsetof(struct mar_app, docker_image),
    offsetof(struct mar_app, env_json),
    offsetof(struct mar_app, readiness_checks_json),
    offsetof(struct mar_app, secrets_json),
    offsetof(struct mar_app, networks_json),
    offsetof(struct mar_app, ip_address_json),
    offsetof(struct mar_app, residency_json),
    offsetof(struct mar_app, executor_resources_json),
    offsetof(struct mar_app, resource_limits_json),
    offsetof(struct mar_app, check_json),
    offsetof(struct mar_app, role),
    offsetof(struct mar_app, store_urls_json),
};
#define NSTRINGS (sizeof(app_strings) / sizeof(app_strings[0]))

static char **app_str(const struct mar_app *a, size_t i)
{
    return (char **)((char *)a + app_strings[i]);
}

struct mar_app *mar_app_dup(const struct mar_app *a)
{
    struct mar_app *d;
    size_t i;
    int ok = 1;

    if (!a)
        return NULL;
    d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    /* Scalars and counts by value; every pointer replaced below. */
    memcpy(d, a, sizeof(*d));
    for (i = 0; i < NSTRINGS; i++)
        *app_str(d, i) = cp(*app_str(a, i), &ok);
    d->constraints = NULL;
    cp_ports(d, a, &ok);
    cp_lists(d, a, &ok);
    if (!ok) {
        mar_app_free(d);
        return NULL;
    }
    return d;
}

static void free_strv(char **v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void free_ports(struct mar_app *a)
{
    size_t i;

    for (i = 0; a->port_defs && i < a->nport_defs; i++) {
        free(a->port_defs[i].protocol);
        free(a->port_defs[i].name);
        mar_kv_free(a->port_defs[i].labels, a->port_defs[i].nlabels);
    }
    free(a->port_defs);
    for (i = 0; a->port_mappings && i < a->nport_mappings; i++) {
        free(a->port_mappings[i].protocol);
        free(a->port_mappings[i].name);
        mar_kv_free(a->port_mappings[i].labels, a->port_mappings[i].nlabels);
    }
    free(a->port_mappings);
}

/* Safe on a partly built app (a failed parse or copy): counts say how
 * many elements exist, and every element pointer may be NULL. */
void mar_app_free(struct mar_app *a)
{
    size_t i;

    if (!a)
        return;
    for (i = 0; i < NSTRINGS; i++)
        free(*app_str(a, i));
    free_strv(a->args, a->nargs);
    free_strv(a->accepted_roles, a->naccepted_roles);
    free_strv(a->dependencies, a->ndependencies);
    mar_kv_free(a->env, a->env ? a->nenv : 0);
    mar_kv_free(a->labels, a->labels ? a->nlabels : 0);
    mar_constraints_free(a->constraints, a->constraints ? a->nconstraints : 0);
    for (i = 0; a->fetch && i < a->nfetch; i++) {
        free(a->fetch[i].uri);
        free(a->fetch[i].dest_path);
    }
    free(a->fetch);
    for (i = 0; a->health_checks && i < a->nhealth_checks; i++) {
        free(a->health_checks[i].path);
        free(a->health_checks[i].command);
        free(a->health_checks[i].ip_protocol);
    }
    free(a->health_checks);
    free_ports(a);
    free(a);
}
