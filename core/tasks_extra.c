/*
 * tasks_extra.c - a task's container status, ports and health output in
 * the master's table and in what plugins receive (see tasks_extra.h).
 *
 * A master holds 100,000 tasks, so a task keeps little of this: a
 * pointer to an interned list of IP addresses (its agent's, shared by
 * all its tasks), the executor pid, and its health output only when it
 * has health checks. Ports and the container status JSON are built for
 * each status or view handed out, from the task's resources and those
 * values, and freed after.
 */
#include "tasks_extra.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "master.h"

/* ---- interned lists of IP addresses ---- */

int tasks_ip_valid(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return s && strlen(s) < INET6_ADDRSTRLEN &&
           (inet_pton(AF_INET, s, buf) == 1 ||
            inet_pton(AF_INET6, s, buf) == 1);
}

/* The interned list of v[0..n) (n >= 1), or NULL when out of memory. */
static const struct task_ips *ips_intern(struct master *m, const char *const *v,
                                         size_t n)
{
    char key[TASK_IPS_MAX * INET6_ADDRSTRLEN];
    size_t i, len = 0, klen;
    struct task_ips *l;
    char *p;

    /* Joined with memcpy: a snprintf() an update was a tenth of its
     * cost. Each address is shorter than INET6_ADDRSTRLEN (checked by
     * tasks_ip_valid()), so with its comma it fits its share of key;
     * the bound is checked all the same. */
    for (i = 0; i < n; i++) {
        size_t k = strlen(v[i]);

        if (len + k + 2 > sizeof(key))
            return NULL;
        if (i > 0)
            key[len++] = ',';
        memcpy(key + len, v[i], k);
        len += k;
    }
    key[len] = '\0';
    if ((l = map_get(&m->tasks.ips, key)) != NULL)
        return l;
    klen = len + 1;
    /* The values take what the key takes: commas become NULs. */
    if ((l = malloc(sizeof(*l) + 2 * klen)) == NULL)
        return NULL;
    memcpy(l->text, key, klen);
    p = l->text + klen;
    l->n = n;
    for (i = 0; i < n; i++) {
        size_t k = strlen(v[i]) + 1;

        l->v[i] = memcpy(p, v[i], k);
        p += k;
    }
    m->tasks.ips.borrowed = 1; /* the key is in the value */
    if (map_put(&m->tasks.ips, l->text, l, NULL) < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void tasks_ips_free(struct master *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->tasks.ips, &pos, NULL, &v))
        free(v);
    map_free(&m->tasks.ips);
}

/* ---- what agents say ---- */

/* Collects the addresses of one network_infos entry into v. */
static void seen_addresses(yajl_val info, const char **v, size_t *n)
{
    yajl_val ips = agora_json_get(info, "ip_addresses");
    size_t i;

    for (i = 0; YAJL_IS_ARRAY(ips) && i < ips->u.array.len; i++) {
        const char *ip =
            agora_json_get_str(ips->u.array.values[i], "ip_address");

        if (*n < TASK_IPS_MAX && tasks_ip_valid(ip))
            v[(*n)++] = ip;
    }
}

void tasks_seen_make(struct master *m, const char *const *ips, size_t n,
                     int64_t pid, const char *health_output,
                     struct task_seen *s)
{
    memset(s, 0, sizeof(*s));
    if (n > 0)
        s->ips = ips_intern(m, ips, n);
    if (pid > 0 && pid <= INT32_MAX)
        s->executor_pid = (int32_t)pid;
    /* An agent cuts it to the limit; a longer one is not believed. */
    s->health_output = health_output;
    if (health_output &&
        strnlen(health_output, AGORA_HEALTH_OUTPUT_MAX + 1) >
            AGORA_HEALTH_OUTPUT_MAX)
        s->health_output = NULL;
}

void tasks_seen_parse(struct master *m, yajl_val u, struct task_seen *s)
{
    yajl_val cs = agora_json_get(u, "container_status");
    yajl_val infos = agora_json_get(cs, "network_infos");
    const char *v[TASK_IPS_MAX];
    size_t i, n = 0;
    int64_t pid = 0;

    for (i = 0; YAJL_IS_ARRAY(infos) && i < infos->u.array.len; i++)
        seen_addresses(infos->u.array.values[i], v, &n);
    if (!YAJL_IS_OBJECT(cs) || agora_json_int(cs, "executor_pid", &pid) < 0)
        pid = 0;
    tasks_seen_make(m, v, n, pid, agora_json_get_str(u, "health_output"), s);
}

void tasks_seen_take(struct task *t, const struct task_seen *s)
{
    char *out;

    if (s->ips)
        t->ips = s->ips;
    if (s->executor_pid)
        t->executor_pid = s->executor_pid;
    if (s->health_output == NULL ||
        (t->health_output && strcmp(t->health_output, s->health_output) == 0))
        return;
    /* Out of memory, the task keeps the result it had. */
    if ((out = strdup(s->health_output)) != NULL) {
        free(t->health_output);
        t->health_output = out;
    }
}

/* ---- what plugins receive ---- */

static int port_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Calls fn on each port (1-65535) of r's "ports" ranges, of any role;
 * returns how many resources of ports it saw. */
static size_t ports_each(const struct agora_resources *r,
                         void (*fn)(void *arg, uint32_t port), void *arg)
{
    size_t i, k, roles = 0;
    uint64_t p;

    for (i = 0; r && i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];

        if (x->type != AGORA_RANGES || strcmp(x->name, "ports") != 0)
            continue;
        roles++;
        for (k = 0; k < x->nranges; k++)
            for (p = x->ranges[k].begin < 1 ? 1 : x->ranges[k].begin;
                 p <= x->ranges[k].end && p <= 65535; p++)
                fn(arg, (uint32_t)p);
    }
    return roles;
}

struct ports_acc {
    uint32_t *v;
    size_t n;
};

static void port_count(void *arg, uint32_t port)
{
    (void)port;
    ((struct ports_acc *)arg)->n++;
}

static void port_add(void *arg, uint32_t port)
{
    struct ports_acc *a = arg;

    a->v[a->n++] = port;
}

/* r's ports ascending, each once, into x (nothing when out of memory). */
static void extra_ports(const struct agora_resources *r, struct task_extra *x)
{
    struct ports_acc a = {NULL, 0};
    size_t i, n;

    ports_each(r, port_count, &a);
    if (a.n == 0 || (a.v = malloc(a.n * sizeof(*a.v))) == NULL)
        return;
    n = a.n;
    a.n = 0;
    /* One role's ranges are sorted and merged already; several roles'
     * are sorted together. */
    if (ports_each(r, port_add, &a) > 1) {
        qsort(a.v, n, sizeof(*a.v), port_cmp);
        for (i = 1, a.n = 1; i < n; i++)
            if (a.v[i] != a.v[a.n - 1])
                a.v[a.n++] = a.v[i];
    }
    x->ports = a.v;
    x->nports = a.n;
}

/* Copies the literal s to p; returns the end. */
static char *put(char *p, const char *s)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    return p + n;
}

/*
 * Mesos' ContainerStatus of what agora has, as JSON; NULL when there is
 * nothing to say (or no memory). The addresses were checked by
 * tasks_ip_valid(): nothing in them needs escaping.
 */
static char *container_json(const struct task_ips *ips, int32_t pid)
{
    size_t i, n = ips ? ips->n : 0, cap = 96, len;
    char *out, *p;

    if (n == 0 && pid <= 0)
        return NULL;
    for (i = 0; i < n; i++)
        cap += strlen(ips->v[i]) + 24;
    if ((out = malloc(cap)) == NULL)
        return NULL;
    p = out;
    p = put(p, "{\"network_infos\":[{\"ip_addresses\":[");
    for (i = 0; i < n; i++) {
        size_t k = strlen(ips->v[i]);

        p = put(p, i ? ",{\"ip_address\":\"" : "{\"ip_address\":\"");
        memcpy(p, ips->v[i], k);
        p = put(p + k, "\"}");
    }
    if (pid > 0) {
        char digits[12], *d = digits + sizeof(digits);
        uint32_t v = (uint32_t)pid;

        do
            *--d = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        p = put(p, "]}],\"executor_pid\":");
        len = (size_t)(digits + sizeof(digits) - d);
        memcpy(p, d, len);
        p = put(p + len, "}");
    } else {
        p = put(p, "]}]}");
    }
    *p = '\0';
    return out;
}

void tasks_extra_build(const struct task *t, const struct task_seen *s,
                       struct task_extra *x)
{
    const struct task_ips *ips = s && s->ips ? s->ips : t->ips;
    int32_t pid = s && s->executor_pid ? s->executor_pid : t->executor_pid;

    memset(x, 0, sizeof(*x));
    if (ips) {
        x->ips = ips->v;
        x->nips = ips->n;
    }
    x->health_output =
        s && s->health_output ? s->health_output : t->health_output;
    extra_ports(t->resources, x);
    x->container_json = container_json(ips, pid);
}

void tasks_extra_of(const struct task *t, struct task_extra *x)
{
    tasks_extra_build(t, NULL, x);
}

void tasks_extra_free(struct task_extra *x)
{
    free(x->ports);
    free(x->container_json);
    memset(x, 0, sizeof(*x));
}

void tasks_extra_status(const struct task_extra *x, struct agora_status *st)
{
    st->ip_addresses = x->ips;
    st->nip_addresses = x->nips;
    st->ports = x->ports;
    st->nports = x->nports;
    st->container_status_json = x->container_json;
    st->health_output = x->health_output;
}
