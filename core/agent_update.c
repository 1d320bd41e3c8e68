/*
 * agent_update.c - the updates POST's body read with yajl's callback
 * parser into flat records (see agent_update.h).
 *
 * A stack of contexts follows the path from the top object down to the
 * deepest member read (container_status.network_infos[].ip_addresses[]
 * .ip_address, depth 8); below a context that is not read, and below
 * depth 8, values are only counted for the depth limit. In an object,
 * each key the context reads is marked when met, so that a later copy
 * of it is skipped: the first wins, as agora_json_get() finds it.
 *
 * The callbacks are fed by json_scan() first, which reads the plain
 * JSON agents send without yajl's lexer, and by yajl when it gives up.
 */
#include "agent_update.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include <agora/json.h>

#include "json_scan.h"
#include "tasks_extra.h"

/* What a container is: which members of it are read. */
enum up_kind {
    UP_SKIP,    /* nothing below is read */
    UP_TOP,     /* {"agent_id", "session", "updates"} */
    UP_UPDATES, /* [update...] */
    UP_UPDATE,  /* one update's members */
    UP_CS,      /* container_status */
    UP_INFOS,   /* network_infos: [info...] */
    UP_INFO,    /* {"ip_addresses"} */
    UP_IPS,     /* [ip...] */
    UP_IP,      /* {"ip_address"} */
};

/* Where a value is: an object's member read, or an array's element. */
enum up_slot {
    UP_NONE,
    UP_AGENT_ID, UP_SESSION, UP_LIST,
    UP_UUID, UP_TASK_ID, UP_FRAMEWORK_ID, UP_STATE, UP_REASON,
    UP_MESSAGE, UP_HEALTH_OUTPUT, UP_HEALTHY, UP_SEQ, UP_TIMESTAMP,
    UP_CONTAINER_STATUS,
    UP_NETWORK_INFOS, UP_EXECUTOR_PID,
    UP_IP_ADDRESSES,
    UP_IP_ADDRESS,
    UP_ELEMENT, /* an element of an array read */
};

/* The depth limit in agora_json_parse()'s words. */
#define UP_STR_(x) #x
#define UP_STR(x) UP_STR_(x)

/* The contexts kept: the deepest read is an ip_address object's. */
#define UP_KNOWN_DEPTH 8

struct up_ctx {
    unsigned char kind; /* enum up_kind */
    unsigned char slot; /* object: the member whose value comes next */
    uint32_t seen;      /* object: the members met, 1 << slot */
};

struct up_parse {
    struct agent_updates *out;
    struct up_ctx ctx[UP_KNOWN_DEPTH + 1]; /* [0]: outside everything */
    unsigned depth;
    yajl_handle h;
    const char *body; /* the text parsed: where yajl's unescaped strings point */
    size_t body_len;
    const char *err; /* why a callback stopped the parse */
    char errbuf[64];
};

/* ---- keys ---- */

struct up_key {
    const char *name;
    unsigned char len;
    unsigned char kind;
    unsigned char slot;
};

#define UP_KEY(name, kind, slot) {name, sizeof(name) - 1, kind, slot}

static const struct up_key up_keys[] = {
    UP_KEY("agent_id", UP_TOP, UP_AGENT_ID),
    UP_KEY("session", UP_TOP, UP_SESSION),
    UP_KEY("updates", UP_TOP, UP_LIST),
    UP_KEY("uuid", UP_UPDATE, UP_UUID),
    UP_KEY("task_id", UP_UPDATE, UP_TASK_ID),
    UP_KEY("framework_id", UP_UPDATE, UP_FRAMEWORK_ID),
    UP_KEY("state", UP_UPDATE, UP_STATE),
    UP_KEY("reason", UP_UPDATE, UP_REASON),
    UP_KEY("message", UP_UPDATE, UP_MESSAGE),
    UP_KEY("health_output", UP_UPDATE, UP_HEALTH_OUTPUT),
    UP_KEY("healthy", UP_UPDATE, UP_HEALTHY),
    UP_KEY("seq", UP_UPDATE, UP_SEQ),
    UP_KEY("timestamp", UP_UPDATE, UP_TIMESTAMP),
    UP_KEY("container_status", UP_UPDATE, UP_CONTAINER_STATUS),
    UP_KEY("network_infos", UP_CS, UP_NETWORK_INFOS),
    UP_KEY("executor_pid", UP_CS, UP_EXECUTOR_PID),
    UP_KEY("ip_addresses", UP_INFO, UP_IP_ADDRESSES),
    UP_KEY("ip_address", UP_IP, UP_IP_ADDRESS),
};

/* The slot of key (len bytes, not NUL-terminated) in an object of kind,
 * or UP_NONE. The tree keeps a key as a C string, so an escaped NUL
 * ends it there: "uuid\u0000x" is "uuid" to the getters. */
static enum up_slot up_key_slot(unsigned kind, const unsigned char *key,
                                size_t len)
{
    size_t i;

    len = strnlen((const char *)key, len);
    for (i = 0; i < sizeof(up_keys) / sizeof(up_keys[0]); i++) {
        const struct up_key *k = &up_keys[i];

        if (k->kind == kind && k->len == len && k->name[0] == key[0] &&
            memcmp(k->name, key, len) == 0)
            return (enum up_slot)k->slot;
    }
    return UP_NONE;
}

/* ---- where a value goes ---- */

static struct up_ctx *up_top(struct up_parse *p)
{
    return p->depth <= UP_KNOWN_DEPTH ? &p->ctx[p->depth] : NULL;
}

/* The slot of the value that comes now: its object's member, read
 * once, or an element of an array read. */
static enum up_slot up_value_slot(struct up_parse *p)
{
    struct up_ctx *c = up_top(p);
    enum up_slot s;

    if (c == NULL)
        return UP_NONE;
    switch (c->kind) {
    case UP_UPDATES:
    case UP_INFOS:
    case UP_IPS:
        return UP_ELEMENT;
    case UP_SKIP:
        return UP_NONE;
    default:
        s = (enum up_slot)c->slot;
        c->slot = UP_NONE; /* one value a key */
        return s;
    }
}

/* The update being read (the last record). */
static struct agent_update *up_cur(struct up_parse *p)
{
    return &p->out->v[p->out->n - 1];
}

/* A new record for an element of "updates"; NULL when out of memory. */
static struct agent_update *up_new(struct up_parse *p)
{
    struct agent_updates *o = p->out;
    struct agent_update *u;

    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 32;
        struct agent_update *v = realloc(o->v, cap * sizeof(*v));

        if (v == NULL)
            return NULL;
        o->v = v;
        o->cap = cap;
    }
    u = &o->v[o->n++];
    memset(u, 0, sizeof(*u));
    u->healthy = -1;
    return u;
}

/* ---- scalars ---- */

/* A copy of s (len bytes) in the strings' block, cut at a NUL. */
static const char *up_keep(struct up_parse *p, const unsigned char *s,
                           size_t len)
{
    struct agent_updates *o = p->out;
    char *d;

    len = strnlen((const char *)s, len);
    if (len + 1 > o->size - o->used) {
        p->err = "a string longer than the body"; /* never: see the header */
        return NULL;
    }
    d = o->text + o->used;
    memcpy(d, s, len);
    d[len] = '\0';
    o->used += len + 1;
    return d;
}

/* The value of the 4 hex digits at p, or -1 (a NUL stops it). */
static long up_hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int c = (unsigned char)p[i];

        if (c >= '0' && c <= '9')
            v = v * 16 + c - '0';
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* How many bytes the escape at e spans (e[0] is the backslash), or 0
 * for a lone UTF-16 surrogate: agora_json_parse()'s rule. */
static size_t up_escape_len(const char *e, const char *end)
{
    long hi, lo;

    if (end - e < 6 || e[1] != 'u')
        return 2; /* yajl has checked the escapes themselves */
    hi = up_hex4(e + 2);
    if (hi < 0xD800 || hi > 0xDFFF)
        return 6;
    if (hi >= 0xDC00 || end - e < 12 || e[6] != '\\' || e[7] != 'u')
        return 0;
    lo = up_hex4(e + 8);
    return lo >= 0xDC00 && lo <= 0xDFFF ? 12 : 0;
}

/*
 * Whether the string yajl just read holds a lone surrogate escape.
 * yajl decodes "\ud800\u0041" into a 4-byte character and "\udc00"
 * into bytes that are not UTF-8, which would be stored and served;
 * agora_json_parse() refuses both before any tree exists, and so does
 * this. Only a string with escapes is decoded out of the body: its text
 * ends where yajl has read to (the closing quote), and starts at the
 * first quote before it that no backslash escapes.
 */
static const char *up_surrogate(const struct up_parse *p,
                                const unsigned char *s)
{
    const char *end, *q, *e;
    size_t n;

    if ((const char *)s >= p->body && (const char *)s <= p->body + p->body_len)
        return NULL; /* no escape: yajl hands over the body's bytes */
    end = p->body + yajl_get_bytes_consumed(p->h) - 1; /* the closing quote */
    for (q = end - 1; q > p->body; q--) {
        const char *b = q;

        if (*q != '"')
            continue;
        while (b > p->body && b[-1] == '\\')
            b--;
        if ((q - b) % 2 == 0)
            break; /* an even run of backslashes: q opens the string */
    }
    for (e = q + 1; e < end; e += n) {
        n = 1;
        if (*e == '\\' && (n = up_escape_len(e, end)) == 0)
            return e;
    }
    return NULL;
}

/* Stops the parse when the string just read has a lone surrogate. */
static int up_check_escapes(struct up_parse *p, const unsigned char *s)
{
    const char *e = up_surrogate(p, s);

    if (e == NULL)
        return 0;
    snprintf(p->errbuf, sizeof(p->errbuf),
             "a lone UTF-16 surrogate (\\u%.4s) in a string", e + 2);
    p->err = p->errbuf;
    return -1;
}

static int up_string(void *arg, const unsigned char *s, size_t len)
{
    struct up_parse *p = arg;
    enum up_slot slot = up_value_slot(p);
    struct agent_update *u = slot >= UP_UUID && slot != UP_ELEMENT &&
                             p->out->n > 0 ? up_cur(p) : NULL;
    const char **to = NULL;
    const char *v;

    if (up_check_escapes(p, s) < 0)
        return 0;
    switch (slot) {
    case UP_ELEMENT:
        /* An element of "updates" that is not an object: a record with
         * nothing, dropped as malformed. Other arrays: nothing. */
        if (up_top(p)->kind == UP_UPDATES && up_new(p) == NULL) {
            p->err = "out of memory";
            return 0;
        }
        return 1;
    case UP_AGENT_ID: to = &p->out->agent_id; break;
    case UP_SESSION: to = &p->out->session; break;
    case UP_UUID: to = &u->uuid; break;
    case UP_TASK_ID: to = &u->task_id; break;
    case UP_FRAMEWORK_ID: to = &u->framework_id; break;
    case UP_STATE: to = &u->state; break;
    case UP_REASON: to = &u->reason; break;
    case UP_MESSAGE: to = &u->message; break;
    case UP_HEALTH_OUTPUT: to = &u->health_output; break;
    case UP_IP_ADDRESS:
        if (u->n_ips >= TASK_IPS_MAX)
            return 1;
        if ((v = up_keep(p, s, len)) == NULL)
            return 0;
        if (tasks_ip_valid(v))
            u->ips[u->n_ips++] = v;
        else
            p->out->used -= strlen(v) + 1; /* not kept: its room back */
        return 1;
    default:
        return 1;
    }
    return (*to = up_keep(p, s, len)) != NULL;
}

/*
 * A number's text as agora_json_int() takes it from the tree: an
 * integer, or a double with an integral value in int64's range. 0, or
 * -1 (the member then counts as missing).
 */
static int up_int(const char *t, int64_t *out)
{
    char *end;
    long long i;
    double d;

    errno = 0;
    i = strtoll(t, &end, 10);
    if (errno == 0 && *end == '\0') {
        *out = (int64_t)i;
        return 0;
    }
    errno = 0;
    d = strtod(t, &end);
    if (errno != 0 || *end != '\0' || d != trunc(d) ||
        d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

/* The number of text t into u's slot (the tree's getters' rules). */
static void up_take_number(struct agent_update *u, enum up_slot slot,
                           const char *t)
{
    int64_t i;
    double d;

    switch (slot) {
    case UP_SEQ:
        if (up_int(t, &i) == 0)
            u->seq = i;
        break;
    case UP_EXECUTOR_PID:
        if (up_int(t, &i) == 0)
            u->executor_pid = i;
        break;
    case UP_TIMESTAMP:
        /* agora_json_num(): a subnormal is taken, an overflow is not. */
        d = strtod(t, NULL);
        if (isfinite(d)) {
            u->timestamp = d;
            u->has_timestamp = 1;
        }
        break;
    default:
        break;
    }
}

/* A number's text is not NUL-terminated where yajl hands it over: a
 * short one is copied on the stack, a longer one (valid JSON may have
 * any number of digits) on the heap. */
static int up_number(void *arg, const char *s, size_t len)
{
    struct up_parse *p = arg;
    enum up_slot slot = up_value_slot(p);
    char small[64], *t = small;

    if (slot == UP_ELEMENT) {
        if (up_top(p)->kind == UP_UPDATES && up_new(p) == NULL) {
            p->err = "out of memory";
            return 0;
        }
        return 1;
    }
    if (slot != UP_SEQ && slot != UP_TIMESTAMP && slot != UP_EXECUTOR_PID)
        return 1;
    if (len >= sizeof(small) && (t = malloc(len + 1)) == NULL) {
        p->err = "out of memory";
        return 0;
    }
    memcpy(t, s, len);
    t[len] = '\0';
    up_take_number(up_cur(p), slot, t);
    if (t != small)
        free(t);
    return 1;
}

/* null and booleans: only "healthy" reads one; an element of "updates"
 * is a record with nothing. */
static int up_other(struct up_parse *p, int boolean)
{
    enum up_slot slot = up_value_slot(p);

    if (slot == UP_ELEMENT && up_top(p)->kind == UP_UPDATES &&
        up_new(p) == NULL) {
        p->err = "out of memory";
        return 0;
    }
    if (slot == UP_HEALTHY && boolean >= 0)
        up_cur(p)->healthy = boolean;
    return 1;
}

static int up_null(void *arg) { return up_other(arg, -1); }

static int up_boolean(void *arg, int b) { return up_other(arg, b != 0); }

/* ---- containers ---- */

/* What a container opened in slot is, as an object (1) or array (0). */
static enum up_kind up_child_kind(const struct up_parse *p, enum up_slot slot,
                                  int object)
{
    unsigned parent = p->ctx[p->depth - 1].kind;

    if (p->depth == 1)
        return object ? UP_TOP : UP_SKIP;
    switch (slot) {
    case UP_LIST:
        return object ? UP_SKIP : UP_UPDATES;
    case UP_CONTAINER_STATUS:
        return object ? UP_CS : UP_SKIP;
    case UP_NETWORK_INFOS:
        return object ? UP_SKIP : UP_INFOS;
    case UP_IP_ADDRESSES:
        return object ? UP_SKIP : UP_IPS;
    case UP_ELEMENT:
        if (!object)
            return UP_SKIP;
        return parent == UP_UPDATES ? UP_UPDATE
               : parent == UP_INFOS ? UP_INFO
               : parent == UP_IPS   ? UP_IP
                                    : UP_SKIP;
    default:
        return UP_SKIP;
    }
}

static int up_open(struct up_parse *p, int object)
{
    enum up_slot slot = up_value_slot(p);
    struct up_ctx *c;

    if (++p->depth > AGORA_JSON_MAX_DEPTH) {
        p->err = "nested deeper than " UP_STR(AGORA_JSON_MAX_DEPTH) " levels";
        return 0;
    }
    /* Any element of "updates" is a record, an array or object too. */
    if (slot == UP_ELEMENT && p->ctx[p->depth - 1].kind == UP_UPDATES &&
        up_new(p) == NULL) {
        p->err = "out of memory";
        return 0;
    }
    if ((c = up_top(p)) != NULL) {
        c->kind = (unsigned char)up_child_kind(p, slot, object);
        c->slot = UP_NONE;
        c->seen = 0;
    }
    return 1;
}

static int up_close(void *arg)
{
    struct up_parse *p = arg;

    p->depth--;
    return 1;
}

static int up_start_map(void *arg) { return up_open(arg, 1); }

static int up_start_array(void *arg) { return up_open(arg, 0); }

static int up_map_key(void *arg, const unsigned char *key, size_t len)
{
    struct up_parse *p = arg;
    struct up_ctx *c = up_top(p);
    enum up_slot s;

    if (up_check_escapes(p, key) < 0)
        return 0;
    if (c == NULL || c->kind == UP_SKIP)
        return 1;
    s = up_key_slot(c->kind, key, len);
    if (s != UP_NONE && (c->seen & (1u << s)))
        s = UP_NONE; /* given before: the first wins */
    if (s != UP_NONE)
        c->seen |= 1u << s;
    c->slot = (unsigned char)s;
    return 1;
}

static const yajl_callbacks up_callbacks = {
    .yajl_null = up_null,
    .yajl_boolean = up_boolean,
    .yajl_number = up_number,
    .yajl_string = up_string,
    .yajl_start_map = up_start_map,
    .yajl_map_key = up_map_key,
    .yajl_end_map = up_close,
    .yajl_start_array = up_start_array,
    .yajl_end_array = up_close,
};

/* ---- the body ---- */

/* yajl's reason, its first line only, as agora_json_parse() gives it. */
static void up_yajl_error(yajl_handle h, const char *body, size_t len,
                          char *err, size_t errlen)
{
    unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)body, len);
    char *nl;

    snprintf(err, errlen, "%s", e && e[0] ? (const char *)e : "parse error");
    if ((nl = strchr(err, '\n')) != NULL)
        *nl = '\0';
    if (e)
        yajl_free_error(h, e);
}

/* Reads the body with yajl: 0, or -1 with the reason in err. */
static int up_parse_yajl(struct up_parse *p, char *err, size_t errlen)
{
    yajl_handle h = yajl_alloc(&up_callbacks, NULL, p);
    yajl_status st;

    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->h = h;
    yajl_config(h, yajl_allow_comments, 1); /* as yajl_tree_parse() */
    st = yajl_parse(h, (const unsigned char *)p->body, p->body_len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_client_canceled && p->err)
        snprintf(err, errlen, "%s", p->err);
    else if (st != yajl_status_ok)
        up_yajl_error(h, p->body, p->body_len, err, errlen);
    yajl_free(h);
    p->h = NULL;
    return st == yajl_status_ok ? 0 : -1;
}

/* Forgets what a scan that gave up had read, for yajl to start over. */
static void up_restart(struct up_parse *p)
{
    struct agent_updates *o = p->out;

    o->agent_id = o->session = NULL;
    o->n = 0;
    o->used = 0;
    memset(p->ctx, 0, sizeof(p->ctx));
    p->depth = 0;
    p->err = NULL;
}

int agent_updates_parse_with(const char *body, struct agent_updates *out,
                             int scan, char *err, size_t errlen)
{
    struct up_parse p = {.out = out};
    int rc = JSON_SCAN_OTHER;

    memset(out, 0, sizeof(*out));
    if (body == NULL) {
        snprintf(err, errlen, "no text");
        return -1;
    }
    p.body = body;
    p.body_len = strlen(body);
    out->size = p.body_len + 1;
    if ((out->text = malloc(out->size)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Plain JSON first (json_scan.h): what it cannot read, yajl does. */
    if (scan)
        rc = json_scan(body, p.body_len, &up_callbacks, &p);
    if (rc == JSON_SCAN_OTHER) {
        up_restart(&p);
        rc = up_parse_yajl(&p, err, errlen);
    } else if (rc == JSON_SCAN_CANCELED) {
        snprintf(err, errlen, "%s", p.err ? p.err : "parse error");
    }
    if (rc != 0) {
        agent_updates_free(out);
        return -1;
    }
    return 0;
}

int agent_updates_parse(const char *body, struct agent_updates *out,
                        char *err, size_t errlen)
{
    return agent_updates_parse_with(body, out, 1, err, errlen);
}

void agent_updates_free(struct agent_updates *u)
{
    free(u->v);
    free(u->text);
    memset(u, 0, sizeof(*u));
}
