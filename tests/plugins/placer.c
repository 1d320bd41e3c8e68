/*
 * placer - a test plugin that places tasks from offers, as a framework
 * does, and counts what becomes of them; the placement benchmark and the
 * placement tests drive it.
 *
 *   POST /target    {"count": N, "prefix": "p", "command": "sleep 600",
 *                    "resources": "cpus:0.1;mem:64",
 *                    "max_per_offer": 0, "kill_grace_period": 1,
 *                    "direct": {"agent_prefix": "sim-", "agents": 100}}
 *                   adds N tasks to place, with ids <prefix>-<k> (k
 *                   counts over every target, so ids never repeat).
 *                   Without "direct" they wait for offers; with it they
 *                   are launched at once, round robin over the agents
 *                   <agent_prefix>0 .. <agent_prefix><agents - 1>,
 *                   without offers (the services table's launch).
 *   GET  /stats     {"pending", "launched", "staging", "running",
 *                    "finished", "failed", "killed", "error", "lost",
 *                    "total", "target_time", "first_accept_time",
 *                    "last_running_time", "all_running_time",
 *                    "offers_received", "offers_declined", "accepts",
 *                    "accept_errors", "rescinded", "statuses",
 *                    "unknown_statuses", "suppressed",
 *                    "last_bad_status": {task_id, state, reason, message}
 *                    (the latest FAILED, ERROR or LOST-like one, if any)}
 *   POST /kill_all  kills every live task and drops the pending ones.
 *
 * Placement: each offer takes as many pending tasks as fit, counted once
 * per offer (and per target within it) from its scalar resources in
 * thousandths, as Mesos keeps them: no per-task resource arithmetic.
 * An offer that fits nothing is declined for a second; with nothing
 * pending the plugin declines and suppresses, and a new target revives
 * it (the pattern Mesos recommends). Task states live in one array
 * indexed by the number in the task id.
 *
 * Only scalar resources are supported in a target: ranges (ports) would
 * need a choice of values per task, which this plugin does not make.
 * It is test code, not a default plugin.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#define PLACER_MAX_SCALARS 8
#define PLACER_ID_MAX 80

/* A task's place in its life, one byte each. */
enum ptask_state {
    P_PENDING = 0, /* waiting for an offer                           */
    P_LAUNCHED,    /* accepted or launched, no status yet            */
    P_STAGING,     /* STAGING or STARTING                            */
    P_RUNNING,     /* RUNNING or KILLING                             */
    P_FINISHED,
    P_FAILED,
    P_KILLED,
    P_ERROR,
    P_LOST,    /* LOST, DROPPED, UNREACHABLE, GONE, UNKNOWN      */
    P_DROPPED, /* dropped by kill_all before it was placed       */
    P_NSTATES
};

struct target {
    size_t base, count; /* task indices [base, base + count)        */
    char *prefix;
    char *command;
    struct agora_resources res;
    double kill_grace;
    size_t max_per_offer; /* 0: no limit                             */
    /* The scalars one task needs, in thousandths. */
    const char *names[PLACER_MAX_SCALARS];
    long long need[PLACER_MAX_SCALARS];
    size_t nneed;
};

struct placer {
    struct agora_host *h;
    const struct agora_api *api;
    struct target *targets;
    size_t ntargets;
    unsigned char *state; /* enum ptask_state, by task index          */
    size_t total;         /* tasks in all targets                     */
    size_t cursor;        /* the next never-placed task               */
    size_t *retry;        /* tasks to place again (accept failed)     */
    size_t nretry, capretry;
    size_t count[P_NSTATES];
    int suppressed;
    /* Reused per offer: the specs and their ids. */
    struct agora_task_spec *specs;
    size_t *spec_idx;
    char *ids;
    size_t capspecs;
    /* Counters and times. */
    unsigned long long offers_received, offers_declined, accepts;
    unsigned long long accept_errors, rescinded, statuses, unknown;
    unsigned long long launched;
    double target_time, first_accept_time, last_running_time;
    double all_running_time;
    /* The latest status that ended a task badly, for diagnostics. */
    char bad_task[PLACER_ID_MAX], bad_state[32], bad_reason[64];
    char bad_message[256];
};

static void set_state(struct placer *p, size_t i, enum ptask_state s)
{
    p->count[p->state[i]]--;
    p->state[i] = (unsigned char)s;
    p->count[s]++;
}

static size_t pending(const struct placer *p)
{
    return p->nretry + (p->total - p->cursor);
}

/* The target holding task i (targets are sorted by base). */
static struct target *target_of(struct placer *p, size_t i)
{
    size_t lo = 0, hi = p->ntargets;

    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;

        if (p->targets[mid].base <= i)
            lo = mid;
        else
            hi = mid;
    }
    return p->ntargets ? &p->targets[lo] : NULL;
}

/* The next task to place, without taking it; 0 when none. */
static int peek(const struct placer *p, size_t *i)
{
    if (p->nretry) {
        *i = p->retry[p->nretry - 1];
        return 1;
    }
    if (p->cursor < p->total) {
        *i = p->cursor;
        return 1;
    }
    return 0;
}

static void take(struct placer *p)
{
    if (p->nretry)
        p->nretry--;
    else
        p->cursor++;
}

static int specs_reserve(struct placer *p, size_t n)
{
    size_t cap = p->capspecs ? p->capspecs : 64;

    if (n <= p->capspecs)
        return 0;
    while (cap < n)
        cap *= 2;
    free(p->specs);
    free(p->spec_idx);
    free(p->ids);
    p->specs = calloc(cap, sizeof(*p->specs));
    p->spec_idx = calloc(cap, sizeof(*p->spec_idx));
    p->ids = malloc(cap * PLACER_ID_MAX);
    if (!p->specs || !p->spec_idx || !p->ids) {
        p->capspecs = 0;
        return AGORA_ENOMEM;
    }
    p->capspecs = cap;
    return 0;
}

/* Fills spec k for task i of target tg. */
static void spec_fill(struct placer *p, size_t k, size_t i,
                      const struct target *tg)
{
    struct agora_task_spec *sp = &p->specs[k];
    char *id = p->ids + k * PLACER_ID_MAX;

    memset(sp, 0, sizeof(*sp));
    snprintf(id, PLACER_ID_MAX, "%s-%zu", tg->prefix, i);
    sp->task_id = id;
    sp->command = tg->command;
    sp->resources = &tg->res;
    sp->kill_grace_period = tg->kill_grace;
    p->spec_idx[k] = i;
}

/* ---- offers ---- */

/* The offer's scalars, summed over roles, in thousandths. */
struct have {
    const char *names[PLACER_MAX_SCALARS * 2];
    long long v[PLACER_MAX_SCALARS * 2];
    size_t n;
};

static long long thousandths(double x)
{
    return llround(x * 1000.0);
}

static void have_of(const struct agora_resources *r, struct have *h)
{
    size_t i, j;

    h->n = 0;
    for (i = 0; r && i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];

        if (x->type != AGORA_SCALAR)
            continue;
        for (j = 0; j < h->n && strcmp(h->names[j], x->name) != 0; j++)
            ;
        if (j == h->n) {
            if (h->n == PLACER_MAX_SCALARS * 2)
                continue;
            h->names[h->n] = x->name;
            h->v[h->n++] = 0;
        }
        h->v[j] += thousandths(x->scalar);
    }
}

/* How many tasks of tg fit in h. */
static size_t fit_count(const struct target *tg, const struct have *h)
{
    size_t i, j, k = (size_t)-1;

    for (i = 0; i < tg->nneed; i++) {
        long long have = 0;

        for (j = 0; j < h->n; j++)
            if (strcmp(h->names[j], tg->names[i]) == 0)
                have = h->v[j];
        if (have < tg->need[i])
            return 0;
        if ((size_t)(have / tg->need[i]) < k)
            k = (size_t)(have / tg->need[i]);
    }
    return k;
}

static void have_take(struct have *h, const struct target *tg, size_t n)
{
    size_t i, j;

    for (i = 0; i < tg->nneed; i++)
        for (j = 0; j < h->n; j++)
            if (strcmp(h->names[j], tg->names[i]) == 0)
                h->v[j] -= tg->need[i] * (long long)n;
}

/* Fills p->specs with the tasks one offer takes; returns how many. */
static size_t pack(struct placer *p, const struct agora_offer *o)
{
    struct have h;
    size_t n = 0, i;

    have_of(o->resources, &h);
    while (peek(p, &i)) {
        struct target *tg = target_of(p, i);
        size_t k = fit_count(tg, &h), got = 0;

        if (tg->max_per_offer) {
            size_t room = tg->max_per_offer > n ? tg->max_per_offer - n : 0;

            if (k > room)
                k = room;
        }
        if (k == 0 || specs_reserve(p, n + k) < 0)
            break;
        /* A run of tasks of the same target, counted once. */
        while (got < k && peek(p, &i) && i >= tg->base &&
               i < tg->base + tg->count) {
            take(p);
            spec_fill(p, n + got, i, tg);
            got++;
        }
        have_take(&h, tg, got);
        n += got;
    }
    return n;
}

static void placed(struct placer *p, size_t n)
{
    size_t k;

    if (p->first_accept_time == 0)
        p->first_accept_time = p->api->now(p->h);
    for (k = 0; k < n; k++)
        set_state(p, p->spec_idx[k], P_LAUNCHED);
    p->launched += n;
}

/* Puts tasks an accept did not take back in front of the queue. */
static void unplace(struct placer *p, size_t n)
{
    size_t k;

    if (p->nretry + n > p->capretry) {
        size_t cap = p->capretry ? p->capretry * 2 : 64;
        size_t *r;

        while (cap < p->nretry + n)
            cap *= 2;
        r = realloc(p->retry, cap * sizeof(*r));
        if (r == NULL) {
            /* Out of memory: count them as lost rather than loop. */
            for (k = 0; k < n; k++)
                set_state(p, p->spec_idx[k], P_LOST);
            return;
        }
        p->retry = r;
        p->capretry = cap;
    }
    for (k = n; k-- > 0;)
        p->retry[p->nretry++] = p->spec_idx[k];
}

static void on_offer(void *state, struct agora_framework *fw,
                     const struct agora_offer *offers, size_t n)
{
    struct placer *p = state;
    size_t i;

    p->offers_received += n;
    for (i = 0; i < n; i++) {
        size_t k = pending(p) ? pack(p, &offers[i]) : 0;
        int rc;

        if (k == 0) {
            p->offers_declined++;
            p->api->decline(fw, offers[i].id, 1.0);
            continue;
        }
        rc = p->api->accept(fw, offers[i].id, p->specs, k);
        if (rc < 0) {
            p->accept_errors++;
            p->api->log(p->h, AGORA_LOG_WARN, "accepting offer %s: %s",
                        offers[i].id, p->api->strerror(rc));
            unplace(p, k);
            continue;
        }
        p->accepts++;
        placed(p, k);
    }
    if (pending(p) == 0 && !p->suppressed) {
        p->suppressed = 1;
        p->api->suppress(fw);
    }
}

static void on_rescind(void *state, struct agora_framework *fw,
                       const char *offer_id)
{
    struct placer *p = state;

    (void)fw;
    (void)offer_id;
    p->rescinded++;
}

/* ---- statuses ---- */

/* The index of one of our task ids, or (size_t)-1. */
static size_t index_of(struct placer *p, const char *id)
{
    const char *dash = id ? strrchr(id, '-') : NULL;
    struct target *tg;
    char *end;
    size_t i;

    if (dash == NULL || dash[1] < '0' || dash[1] > '9')
        return (size_t)-1;
    i = strtoul(dash + 1, &end, 10);
    if (*end || i >= p->total)
        return (size_t)-1;
    tg = target_of(p, i);
    if (strlen(tg->prefix) != (size_t)(dash - id) ||
        strncmp(tg->prefix, id, (size_t)(dash - id)) != 0)
        return (size_t)-1;
    return i;
}

static enum ptask_state ptask_state_of(enum agora_task_state s)
{
    switch (s) {
    case AGORA_TASK_STAGING:
    case AGORA_TASK_STARTING:
        return P_STAGING;
    case AGORA_TASK_RUNNING:
    case AGORA_TASK_KILLING:
        return P_RUNNING;
    case AGORA_TASK_FINISHED:
        return P_FINISHED;
    case AGORA_TASK_FAILED:
        return P_FAILED;
    case AGORA_TASK_KILLED:
        return P_KILLED;
    case AGORA_TASK_ERROR:
        return P_ERROR;
    default:
        return P_LOST;
    }
}

static void on_status(void *state, struct agora_framework *fw,
                      const struct agora_status *s)
{
    struct placer *p = state;
    size_t i = index_of(p, s->task_id);
    enum ptask_state to;

    (void)fw;
    p->statuses++;
    if (i == (size_t)-1 || p->state[i] == P_PENDING) {
        p->unknown++;
        return;
    }
    to = ptask_state_of(s->state);
    set_state(p, i, to);
    if (to == P_FAILED || to == P_ERROR || to == P_LOST) {
        snprintf(p->bad_task, sizeof(p->bad_task), "%s", s->task_id);
        snprintf(p->bad_state, sizeof(p->bad_state), "%s",
                 agora_task_state_name(s->state));
        snprintf(p->bad_reason, sizeof(p->bad_reason), "%s",
                 s->reason ? s->reason : "");
        snprintf(p->bad_message, sizeof(p->bad_message), "%s",
                 s->message ? s->message : "");
    }
    if (to == P_RUNNING) {
        p->last_running_time = p->api->now(p->h);
        if (p->count[P_RUNNING] == p->total && p->all_running_time == 0)
            p->all_running_time = p->last_running_time;
    }
}

/* ---- targets ---- */

static void target_free(struct target *tg)
{
    free(tg->prefix);
    free(tg->command);
    agora_resources_free(&tg->res);
}

/* Reads a target from the request body into tg; a reason on failure. */
static const char *target_parse(yajl_val doc, struct target *tg)
{
    const char *prefix = "p", *command = "sleep 600", *res = NULL;
    double count = -1, grace = 1, max = 0;
    size_t i;

    memset(tg, 0, sizeof(*tg));
    agora_json_num(doc, "count", &count);
    agora_json_str(doc, "prefix", &prefix);
    agora_json_str(doc, "command", &command);
    agora_json_str(doc, "resources", &res);
    agora_json_num(doc, "kill_grace_period", &grace);
    agora_json_num(doc, "max_per_offer", &max);
    if (count < 0 || count != floor(count) || count > 1e8)
        return "count: want a whole number of tasks";
    if (res == NULL || agora_resources_parse(res, &tg->res, NULL, 0) < 0)
        return "resources: want a resource string like cpus:0.1;mem:64";
    if (strlen(prefix) == 0 || strlen(prefix) > PLACER_ID_MAX - 24)
        return "prefix: want 1-56 characters";
    for (i = 0; i < tg->res.n; i++) {
        const struct agora_resource *x = &tg->res.v[i];

        if (x->type != AGORA_SCALAR)
            return "resources: only scalar resources can be placed";
        if (tg->nneed == PLACER_MAX_SCALARS)
            return "resources: too many";
        if (thousandths(x->scalar) <= 0)
            continue;
        tg->names[tg->nneed] = x->name;
        tg->need[tg->nneed++] = thousandths(x->scalar);
    }
    if (tg->nneed == 0)
        return "resources: a task must need something";
    tg->count = (size_t)count;
    tg->kill_grace = grace;
    tg->max_per_offer = max > 0 ? (size_t)max : 0;
    tg->prefix = strdup(prefix);
    tg->command = strdup(command);
    if (!tg->prefix || !tg->command)
        return "out of memory";
    return NULL;
}

/* Launches the target's tasks at once, round robin over the agents. */
static void launch_direct(struct placer *p, struct target *tg, yajl_val d)
{
    struct agora_framework *fw = p->api->framework_default(p->h);
    const char *aprefix = "sim-";
    double nagents = 0;
    size_t a, per, i, left = tg->count, idx = tg->base;

    agora_json_str(d, "agent_prefix", &aprefix);
    agora_json_num(d, "agents", &nagents);
    if (nagents < 1 || tg->count == 0)
        return;
    per = (tg->count + (size_t)nagents - 1) / (size_t)nagents;
    if (p->first_accept_time == 0)
        p->first_accept_time = p->api->now(p->h);
    for (a = 0; a < (size_t)nagents && left > 0; a++) {
        size_t k = left < per ? left : per;
        char agent[160];
        int rc;

        if (specs_reserve(p, k) < 0)
            break;
        for (i = 0; i < k; i++)
            spec_fill(p, i, idx + i, tg);
        snprintf(agent, sizeof(agent), "%s%zu", aprefix, a);
        rc = p->api->launch(fw, agent, p->specs, k);
        if (rc < 0) {
            p->api->log(p->h, AGORA_LOG_WARN, "launching on %s: %s", agent,
                        p->api->strerror(rc));
            for (i = 0; i < k; i++)
                set_state(p, idx + i, P_ERROR);
        } else {
            placed(p, k);
        }
        idx += k;
        left -= k;
    }
}

static void post_target(void *state, struct agora_req *req)
{
    struct placer *p = state;
    char err[128];
    yajl_val doc =
        agora_json_parse(p->api->req_body(req, NULL), err, sizeof(err));
    yajl_val direct = doc ? agora_json_get(doc, "direct") : NULL;
    struct target tg, *tv;
    unsigned char *sv;
    const char *why;
    struct agora_jw *w;

    if (doc == NULL) {
        agora_reply_error(p->api, req, 400, err);
        return;
    }
    why = target_parse(doc, &tg);
    if (why == NULL && YAJL_IS_OBJECT(direct) && p->cursor < p->total)
        why = "direct: tasks of an earlier target still wait for offers";
    if (why) {
        target_free(&tg);
        agora_reply_error(p->api, req, 400, why);
        yajl_tree_free(doc);
        return;
    }
    tv = realloc(p->targets, (p->ntargets + 1) * sizeof(*tv));
    if (tv)
        p->targets = tv;
    sv = tv ? realloc(p->state, p->total + tg.count + 1) : NULL;
    if (sv == NULL) {
        target_free(&tg);
        agora_reply_error(p->api, req, 500, "out of memory");
        yajl_tree_free(doc);
        return;
    }
    p->state = sv;
    memset(p->state + p->total, P_PENDING, tg.count);
    tg.base = p->total;
    p->targets[p->ntargets++] = tg;
    tv = &p->targets[p->ntargets - 1];
    p->total += tg.count;
    p->count[P_PENDING] += tg.count;
    p->target_time = p->api->now(p->h);
    p->first_accept_time = 0;
    p->all_running_time = 0;
    if (YAJL_IS_OBJECT(direct)) {
        p->cursor = p->total; /* never offered: launched here */
        launch_direct(p, tv, direct);
    } else if (p->suppressed && tg.count > 0) {
        p->suppressed = 0;
        p->api->revive(p->api->framework_default(p->h));
    }
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_kint(w, "first", (int64_t)tv->base);
    agora_jw_kint(w, "count", (int64_t)tv->count);
    agora_jw_kint(w, "pending", (int64_t)pending(p));
    agora_jw_obj_close(w);
    agora_reply_jw(p->api, req, 200, w);
    agora_jw_free(w);
    yajl_tree_free(doc);
}

/* ---- stats and kill_all ---- */

static void get_stats(void *state, struct agora_req *req)
{
    struct placer *p = state;
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_kint(w, "total", (int64_t)p->total);
    agora_jw_kint(w, "pending", (int64_t)pending(p));
    agora_jw_kint(w, "launched", (int64_t)p->launched);
    agora_jw_kint(w, "staging",
                  (int64_t)(p->count[P_LAUNCHED] + p->count[P_STAGING]));
    agora_jw_kint(w, "running", (int64_t)p->count[P_RUNNING]);
    agora_jw_kint(w, "finished", (int64_t)p->count[P_FINISHED]);
    agora_jw_kint(w, "failed", (int64_t)p->count[P_FAILED]);
    agora_jw_kint(w, "killed", (int64_t)p->count[P_KILLED]);
    agora_jw_kint(w, "error", (int64_t)p->count[P_ERROR]);
    agora_jw_kint(w, "lost", (int64_t)p->count[P_LOST]);
    agora_jw_kint(w, "dropped", (int64_t)p->count[P_DROPPED]);
    agora_jw_knum(w, "target_time", p->target_time);
    agora_jw_knum(w, "first_accept_time", p->first_accept_time);
    agora_jw_knum(w, "last_running_time", p->last_running_time);
    agora_jw_knum(w, "all_running_time", p->all_running_time);
    agora_jw_kint(w, "offers_received", (int64_t)p->offers_received);
    agora_jw_kint(w, "offers_declined", (int64_t)p->offers_declined);
    agora_jw_kint(w, "accepts", (int64_t)p->accepts);
    agora_jw_kint(w, "accept_errors", (int64_t)p->accept_errors);
    agora_jw_kint(w, "rescinded", (int64_t)p->rescinded);
    agora_jw_kint(w, "statuses", (int64_t)p->statuses);
    agora_jw_kint(w, "unknown_statuses", (int64_t)p->unknown);
    agora_jw_kbool(w, "suppressed", p->suppressed);
    if (p->bad_task[0]) {
        agora_jw_key(w, "last_bad_status");
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "task_id", p->bad_task);
        agora_jw_kstr(w, "state", p->bad_state);
        agora_jw_kstr(w, "reason", p->bad_reason);
        agora_jw_kstr(w, "message", p->bad_message);
        agora_jw_obj_close(w);
    }
    agora_jw_obj_close(w);
    agora_reply_jw(p->api, req, 200, w);
    agora_jw_free(w);
}

static void post_kill_all(void *state, struct agora_req *req)
{
    struct placer *p = state;
    struct agora_framework *fw = p->api->framework_default(p->h);
    size_t i, killed = 0, dropped = 0;
    char body[96];
    int n;

    for (i = 0; i < p->total; i++) {
        unsigned char s = p->state[i];

        if (s == P_PENDING) {
            set_state(p, i, P_DROPPED);
            dropped++;
        } else if (s == P_LAUNCHED || s == P_STAGING || s == P_RUNNING) {
            char id[PLACER_ID_MAX];

            snprintf(id, sizeof(id), "%s-%zu", target_of(p, i)->prefix, i);
            if (p->api->kill(fw, id) == 0)
                killed++;
        }
    }
    p->cursor = p->total;
    p->nretry = 0;
    n = snprintf(body, sizeof(body), "{\"killed\":%zu,\"dropped\":%zu}", killed,
                 dropped);
    p->api->reply(req, 202, NULL, body, (size_t)n);
}

/* ---- life ---- */

static int init(struct agora_host *h, const struct agora_api *api,
                const void *conf, void **state)
{
    struct placer *p = calloc(1, sizeof(*p));

    (void)conf;
    if (p == NULL)
        return AGORA_ENOMEM;
    p->h = h;
    p->api = api;
    *state = p;
    return 0;
}

static void fini(void *state)
{
    struct placer *p = state;
    size_t i;

    for (i = 0; i < p->ntargets; i++)
        target_free(&p->targets[i]);
    free(p->targets);
    free(p->state);
    free(p->retry);
    free(p->specs);
    free(p->spec_idx);
    free(p->ids);
    free(p);
}

static const struct agora_route routes[] = {
    {"POST", "/target", post_target},
    {"GET", "/stats", get_stats},
    {"POST", "/kill_all", post_kill_all},
    {NULL, NULL, NULL},
};

static const struct agora_plugin desc = {
    AGORA_PLUGIN_INIT,
    .name = "placer",
    .version = "1.0",
    .description = "test plugin: places tasks from offers and counts their states",
    .routes = routes,
    .init = init,
    .fini = fini,
    .on_offer = on_offer,
    .on_status = on_status,
    .on_rescind = on_rescind,
};

const struct agora_plugin *agora_plugin_entry(void)
{
    return &desc;
}
