/*
 * test_alloc.c - the DRF allocator (core/alloc.h) on a simulated
 * cluster: agents and frameworks are added by hand, cycles run by hand
 * (alloc_run with a NULL loop) or by a real ev_loop, the callbacks record
 * offers and rescinds, simulated frameworks accept tasks from offers with
 * alloc_accept and the tasks "finish" with alloc_release.
 *
 * The last test case ("bugs") holds tests for allocator bugs found while
 * writing these; each names the bug it shows.
 */
#include <check.h>
#include <ev.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/resources.h>

#include "alloc.h"

#define MAXFW 80
#define MAXAG 64
#define PORT_LO 31000
#define PORT_HI 31019

/* ---- the simulated cluster ---- */

struct sim;

struct sfw {
    char id[32];
    struct alloc_fw *fw;
    struct alloc_offer **held; /* delivered, not answered yet */
    size_t nheld, capheld;
    size_t received, rescinded;
    double last_offer_at; /* ev_time() of the last delivery */
    /* Answers offers inside the callback when set (loop tests). */
    void (*hook)(struct sim *s, struct sfw *f);
};

struct task {
    struct sfw *fw;
    int ag; /* index in sim->ag */
    struct agora_resources placed;
};

struct sim {
    struct alloc *a;
    struct ev_loop *loop;
    struct sfw fw[MAXFW];
    size_t nfw;
    struct alloc_agent *ag[MAXAG];
    int agidx[MAXAG];
    size_t nag;
    struct task *tasks;
    size_t ntasks, captasks;
    uint64_t rng;
    char last_rescind[64];
    struct sfw *last_rescind_fw;
    unsigned char ports[MAXAG][PORT_HI - PORT_LO + 1]; /* in use by a task */
    /* Called in on_offer before the frameworks' hooks (bug tests). */
    void (*deliver_hook)(struct sim *s, struct sfw *f);
};

static uint64_t rnd(struct sim *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* A uniform double in [0, 1). */
static double rnd01(struct sim *s)
{
    return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* Parses text, which must be valid; the caller frees the result. */
static struct agora_resources parse(const char *text)
{
    struct agora_resources r = {NULL, 0};
    char err[256] = "";

    ck_assert_msg(agora_resources_parse(text, &r, err, sizeof(err)) == 0,
                  "'%s': %s", text, err);
    return r;
}

/* The text of r, in a buffer valid until the next call. */
static const char *fmt(const struct agora_resources *r)
{
    static char out[1024];

    ck_assert_uint_lt(agora_resources_format(r, out, sizeof(out)), sizeof(out));
    return out;
}

static double scalar_of(const struct agora_resources *r, const char *name,
                        const char *role)
{
    const struct agora_resource *x = agora_resources_find(r, name, role);

    return x ? x->scalar : 0;
}

static void held_remove(struct sfw *f, const struct alloc_offer *o)
{
    size_t i;

    for (i = 0; i < f->nheld; i++)
        if (f->held[i] == o) {
            f->held[i] = f->held[--f->nheld];
            return;
        }
}

static void on_offer(void *arg, struct alloc_fw *afw,
                     struct alloc_offer *const *offers, size_t n)
{
    struct sim *s = arg;
    struct sfw *f = alloc_fw_owner(afw);
    size_t i;

    ck_assert_ptr_eq(f->fw, afw);
    ck_assert_uint_gt(n, 0);
    if (f->nheld + n > f->capheld) {
        f->capheld = (f->nheld + n) * 2;
        f->held = realloc(f->held, f->capheld * sizeof(*f->held));
        ck_assert_ptr_nonnull(f->held);
    }
    for (i = 0; i < n; i++) {
        /* Every offer is whole: findable, its own, with resources. */
        ck_assert_ptr_eq(alloc_offer_find(s->a, alloc_offer_id(offers[i])),
                         offers[i]);
        ck_assert_uint_gt(alloc_offer_resources(offers[i])->n, 0);
        f->held[f->nheld++] = offers[i];
    }
    f->received += n;
    f->last_offer_at = ev_time();
    if (s->deliver_hook)
        s->deliver_hook(s, f);
    if (f->hook)
        f->hook(s, f);
}

static void on_rescind(void *arg, struct alloc_fw *afw, struct alloc_offer *o)
{
    struct sim *s = arg;
    struct sfw *f = alloc_fw_owner(afw);

    /* The offer is still readable during the call. */
    ck_assert_ptr_nonnull(alloc_offer_resources(o));
    snprintf(s->last_rescind, sizeof(s->last_rescind), "%s", alloc_offer_id(o));
    s->last_rescind_fw = f;
    f->rescinded++;
    held_remove(f, o);
}

static struct sim *sim_new(struct ev_loop *loop, const char *weights,
                           const char *quota)
{
    struct sim *s = calloc(1, sizeof(*s));
    struct alloc_conf c;
    char err[256] = "";

    ck_assert_ptr_nonnull(s);
    memset(&c, 0, sizeof(c));
    c.interval = loop ? 0.01 : 0;
    c.refuse_default = 5.0;
    c.min_cpus = 0.01;
    c.min_mem = 32;
    c.weights = weights;
    c.quota = quota;
    s->loop = loop;
    s->rng = 0x9e3779b97f4a7c15ull;
    ck_assert_msg(alloc_new(loop, &c, on_offer, on_rescind, s, &s->a, err,
                            sizeof(err)) == 0,
                  "alloc_new: %s", err);
    return s;
}

static void sim_free(struct sim *s)
{
    size_t i;

    alloc_free(s->a);
    for (i = 0; i < s->ntasks; i++)
        agora_resources_free(&s->tasks[i].placed);
    for (i = 0; i < s->nfw; i++)
        free(s->fw[i].held);
    free(s->tasks);
    free(s);
}

static int add_agent(struct sim *s, const char *id, const char *text)
{
    struct agora_resources r = parse(text);
    int i = (int)s->nag++;

    ck_assert_int_lt(i, MAXAG);
    s->agidx[i] = i;
    ck_assert_int_eq(alloc_agent_add(s->a, id, &r, &s->agidx[i], &s->ag[i]), 0);
    ck_assert_ptr_eq(alloc_agent_find(s->a, id), s->ag[i]);
    agora_resources_free(&r);
    return i;
}

static struct sfw *add_fw(struct sim *s, const char *id, const char *role)
{
    struct sfw *f = &s->fw[s->nfw++];

    ck_assert_uint_le(s->nfw, MAXFW);
    snprintf(f->id, sizeof(f->id), "%s", id);
    ck_assert_int_eq(alloc_fw_add(s->a, f->id, role, f, &f->fw), 0);
    ck_assert_str_eq(alloc_fw_id(f->fw), id);
    return f;
}

/* The index of the agent an offer is for. */
static int offer_agent(struct sim *s, const struct alloc_offer *o)
{
    struct alloc_agent *ag = alloc_agent_find(s->a, alloc_offer_agent_id(o));

    ck_assert_ptr_nonnull(ag);
    return *(int *)alloc_agent_owner(ag);
}

static void task_push(struct sim *s, struct sfw *f, int ag,
                      struct agora_resources *placed)
{
    if (s->ntasks == s->captasks) {
        s->captasks = s->captasks ? s->captasks * 2 : 64;
        s->tasks = realloc(s->tasks, s->captasks * sizeof(*s->tasks));
        ck_assert_ptr_nonnull(s->tasks);
    }
    s->tasks[s->ntasks].fw = f;
    s->tasks[s->ntasks].ag = ag;
    s->tasks[s->ntasks].placed = *placed;
    s->ntasks++;
}

/* Marks (on = 1) or clears the ports of placed on agent ag; a port
 * marked twice is a double allocation. */
static void ports_mark(struct sim *s, int ag, const struct agora_resources *p,
                       int on)
{
    size_t i, j;

    for (i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, "ports") != 0)
            continue;
        for (j = 0; j < p->v[i].nranges; j++) {
            uint64_t port;

            for (port = p->v[i].ranges[j].begin; port <= p->v[i].ranges[j].end;
                 port++) {
                unsigned char *u = &s->ports[ag][port - PORT_LO];

                ck_assert_uint_ge(port, PORT_LO);
                ck_assert_uint_le(port, PORT_HI);
                ck_assert_msg(*u != on, "port %llu of agent %d %s",
                              (unsigned long long)port, ag,
                              on ? "allocated twice" : "freed twice");
                *u = (unsigned char)on;
            }
        }
    }
}

/* Accepts n tasks (texts) from o for f; 0 or the allocator's error. */
static int accept_texts(struct sim *s, struct sfw *f, struct alloc_offer *o,
                        const char *const *texts, size_t n, size_t *bad)
{
    struct agora_resources *rs = calloc(n ? n : 1, sizeof(*rs));
    const struct agora_resources **rp = calloc(n ? n : 1, sizeof(*rp));
    struct agora_resources *placed = calloc(n ? n : 1, sizeof(*placed));
    int ag = offer_agent(s, o), rc;
    size_t i, dummy = (size_t)-1;
    char err[256] = "";

    ck_assert(rs && rp && placed);
    for (i = 0; i < n; i++) {
        rs[i] = parse(texts[i]);
        rp[i] = &rs[i];
    }
    rc = alloc_accept(s->a, f->fw, o, rp, n, placed, bad ? bad : &dummy, err,
                      sizeof(err));
    if (rc == 0) {
        held_remove(f, o);
        for (i = 0; i < n; i++) {
            ports_mark(s, ag, &placed[i], 1);
            task_push(s, f, ag, &placed[i]);
        }
    } else {
        ck_assert_str_ne(err, "");
        for (i = 0; i < n; i++)
            ck_assert_msg(placed[i].n == 0 && placed[i].v == NULL,
                          "a failed accept left placed[%zu]", i);
    }
    for (i = 0; i < n; i++)
        agora_resources_free(&rs[i]);
    free(rs);
    free(rp);
    free(placed);
    return rc;
}

/* Accepts as many tasks of cpus:1;mem:128 as o holds (declines when
 * none fit). */
static void fill(struct sim *s, struct sfw *f, struct alloc_offer *o)
{
    const struct agora_resources *r = alloc_offer_resources(o);
    double cpus = agora_resources_scalar(r, "cpus");
    double mem = agora_resources_scalar(r, "mem");
    size_t n = (size_t)fmin(floor(cpus + 1e-9), floor(mem / 128 + 1e-9)), i;
    const char **texts;

    if (n == 0) {
        ck_assert_int_eq(alloc_decline(s->a, f->fw, o, 0), 0);
        held_remove(f, o);
        return;
    }
    texts = calloc(n, sizeof(*texts));
    for (i = 0; i < n; i++)
        texts[i] = "cpus:1;mem:128";
    ck_assert_int_eq(accept_texts(s, f, o, texts, n, NULL), 0);
    free(texts);
}

static void fill_all(struct sim *s, struct sfw *f)
{
    while (f->nheld)
        fill(s, f, f->held[f->nheld - 1]);
}

static void decline_all(struct sim *s, struct sfw *f, double refuse)
{
    while (f->nheld) {
        ck_assert_int_eq(
            alloc_decline(s->a, f->fw, f->held[f->nheld - 1], refuse), 0);
        f->nheld--;
    }
}

static void finish(struct sim *s, size_t i)
{
    struct task *t = &s->tasks[i];

    ports_mark(s, t->ag, &t->placed, 0);
    alloc_release(s->a, s->ag[t->ag], t->fw ? t->fw->fw : NULL, &t->placed);
    agora_resources_free(&t->placed);
    *t = s->tasks[--s->ntasks];
}

/* Each running task finishes with probability p. */
static void finish_random(struct sim *s, double p)
{
    size_t i = 0;

    while (i < s->ntasks)
        if (rnd01(s) < p)
            finish(s, i);
        else
            i++;
}

static double fw_scalar(struct sim *s, const struct sfw *f, const char *name)
{
    double v = 0;
    size_t i;

    for (i = 0; i < s->ntasks; i++)
        if (s->tasks[i].fw == f)
            v += agora_resources_scalar(&s->tasks[i].placed, name);
    return v;
}

static double held_scalar(const struct sfw *f, const char *name)
{
    double v = 0;
    size_t i;

    for (i = 0; i < f->nheld; i++)
        v += agora_resources_scalar(alloc_offer_resources(f->held[i]), name);
    return v;
}

/* alloc_get_totals agrees with the tasks and offers the sim knows of
 * (all its agents active). */
static void check_totals(struct sim *s, double total_cpus, double total_mem)
{
    struct alloc_totals t;
    double used_cpus = 0, used_mem = 0, off_cpus = 0, off_mem = 0;
    size_t i;

    for (i = 0; i < s->ntasks; i++) {
        used_cpus += agora_resources_scalar(&s->tasks[i].placed, "cpus");
        used_mem += agora_resources_scalar(&s->tasks[i].placed, "mem");
    }
    for (i = 0; i < s->nfw; i++) {
        off_cpus += held_scalar(&s->fw[i], "cpus");
        off_mem += held_scalar(&s->fw[i], "mem");
    }
    alloc_get_totals(s->a, &t);
    ck_assert_double_eq_tol(t.total[0], total_cpus, 1e-6);
    ck_assert_double_eq_tol(t.total[1], total_mem, 1e-6);
    ck_assert_double_eq_tol(t.used[0], used_cpus, 1e-6);
    ck_assert_double_eq_tol(t.used[1], used_mem, 1e-6);
    ck_assert_double_eq_tol(t.offered[0], off_cpus, 1e-6);
    ck_assert_double_eq_tol(t.offered[1], off_mem, 1e-6);
}

static size_t total_received(struct sim *s)
{
    size_t i, n = 0;

    for (i = 0; i < s->nfw; i++)
        n += s->fw[i].received;
    return n;
}

/* ---- configuration ---- */

START_TEST(bad_weights_and_quota)
{
    struct alloc_conf c;
    struct alloc *a = NULL;
    char err[256] = "";

    memset(&c, 0, sizeof(c));
    c.weights = "a=1,b=0";
    ck_assert_int_eq(
        alloc_new(NULL, &c, NULL, NULL, NULL, &a, err, sizeof(err)),
        AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'b=0'"));
    c.weights = NULL;
    c.quota = "q:cpus=4;memory=3";
    err[0] = '\0';
    ck_assert_int_eq(
        alloc_new(NULL, &c, NULL, NULL, NULL, &a, err, sizeof(err)),
        AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'memory=3'"));
    c.quota = "q:cpus=4;mem=100,r:gpus=1";
    ck_assert_int_eq(
        alloc_new(NULL, &c, NULL, NULL, NULL, &a, err, sizeof(err)), 0);
    alloc_free(a);
}
END_TEST

/* ---- weighted DRF ---- */

/* Reads the roles' dominant shares from alloc_write_roles. */
static void roles_json(struct sim *s, const char **names, double *weight,
                       double *share, size_t n)
{
    struct agora_jw *w = agora_jw_new();
    char err[256];
    yajl_val doc, arr;
    size_t i, j;

    ck_assert_ptr_nonnull(w);
    agora_jw_obj_open(w);
    agora_jw_key(w, "roles");
    alloc_write_roles(s->a, w);
    agora_jw_obj_close(w);
    doc = agora_json_parse(agora_jw_result(w, NULL), err, sizeof(err));
    ck_assert_msg(doc != NULL, "alloc_write_roles: %s", err);
    arr = agora_json_get(doc, "roles");
    ck_assert(YAJL_IS_ARRAY(arr));
    for (j = 0; j < n; j++) {
        weight[j] = share[j] = -1;
        for (i = 0; i < arr->u.array.len; i++) {
            const char *name;
            yajl_val r = arr->u.array.values[i];

            if (agora_json_str(r, "name", &name) == 0 &&
                strcmp(name, names[j]) == 0) {
                ck_assert_int_eq(agora_json_num(r, "weight", &weight[j]), 0);
                ck_assert_int_eq(agora_json_num(r, "dominant_share", &share[j]),
                                 0);
            }
        }
        ck_assert_msg(share[j] >= 0, "role %s missing", names[j]);
    }
    yajl_tree_free(doc);
    agora_jw_free(w);
}

/* One cycle of the greedy frameworks: tasks finish, a cycle runs, every
 * offer is filled. */
static void greedy_cycle(struct sim *s)
{
    size_t i;

    finish_random(s, 0.05);
    alloc_run(s->a);
    for (i = 0; i < s->nfw; i++)
        fill_all(s, &s->fw[i]);
}

START_TEST(drf_weights_converge)
{
    struct sim *s = sim_new(NULL, "a=1,b=1,c=2", NULL);
    const char *names[3] = {"a", "b", "c"};
    double sum[3] = {0, 0, 0}, weight[3], share[3];
    char id[16];
    int i, k;

    for (i = 0; i < 24; i++) {
        snprintf(id, sizeof(id), "ag%d", i);
        add_agent(s, id, "cpus:8;mem:8192");
    }
    /* a takes the whole cluster, then b and c arrive and must win their
     * shares back as a's tasks finish. */
    add_fw(s, "fa", "a");
    for (i = 0; i < 30; i++)
        greedy_cycle(s);
    ck_assert_double_eq_tol(fw_scalar(s, &s->fw[0], "cpus"), 192, 1e-9);
    add_fw(s, "fb", "b");
    for (i = 0; i < 30; i++)
        greedy_cycle(s);
    add_fw(s, "fc", "c");
    for (i = 0; i < 400; i++) {
        greedy_cycle(s);
        /* Every offer is answered at once: the cluster stays full. */
        check_totals(s, 192, 192 * 1024);
        ck_assert_double_eq_tol(fw_scalar(s, &s->fw[0], "cpus") +
                                    fw_scalar(s, &s->fw[1], "cpus") +
                                    fw_scalar(s, &s->fw[2], "cpus"),
                                192, 1e-9);
        if (i >= 200)
            for (k = 0; k < 3; k++)
                sum[k] += fw_scalar(s, &s->fw[k], "cpus") / 192;
    }
    for (k = 0; k < 3; k++)
        sum[k] /= 200;
    fprintf(stderr,
            "drf: mean shares over 200 cycles a %.4f b %.4f c %.4f "
            "(b/a %.3f, c/a %.3f)\n",
            sum[0], sum[1], sum[2], sum[1] / sum[0], sum[2] / sum[0]);
    /* 1:1:2 within 5% (cpus are the dominant resource). */
    ck_assert_msg(fabs(sum[1] / sum[0] - 1) < 0.05, "b/a = %.3f",
                  sum[1] / sum[0]);
    ck_assert_msg(fabs(sum[2] / sum[0] / 2 - 1) < 0.05, "c/a = %.3f",
                  sum[2] / sum[0]);
    ck_assert_msg(fabs(sum[2] / sum[1] / 2 - 1) < 0.05, "c/b = %.3f",
                  sum[2] / sum[1]);
    /* The allocator's own figures agree with the tasks the sim runs. */
    roles_json(s, names, weight, share, 3);
    ck_assert_double_eq(weight[0], 1);
    ck_assert_double_eq(weight[1], 1);
    ck_assert_double_eq(weight[2], 2);
    for (k = 0; k < 3; k++) {
        double mine = fw_scalar(s, &s->fw[k], "cpus") / 192;

        ck_assert_double_eq_tol(share[k], mine, 1e-9);
        ck_assert_double_eq_tol(alloc_fw_share(s->fw[k].fw), mine, 1e-9);
    }
    sim_free(s);
}
END_TEST

/* Twenty roles of weights 1..4 on 64 agents: each holds its weight's
 * part of the cluster; one framework refuses an agent for good and the
 * agent still goes to the others. */
START_TEST(drf_many_roles)
{
    struct sim *s;
    char weights[512] = "", id[16], role[16];
    double sum[20], wsum = 0;
    int i, k, n = 0, refused = 0;

    for (k = 0; k < 20; k++) {
        n += snprintf(weights + n, sizeof(weights) - (size_t)n, "%sr%02d=%d",
                      k ? "," : "", k, 1 + k % 4);
        wsum += 1 + k % 4;
        sum[k] = 0;
    }
    s = sim_new(NULL, weights, NULL);
    /* Tasks use an agent's cpus and mem up together: no leftover of mem
     * alone, which a framework declining with refuse 0 would be offered
     * again and again (offered resources count as held). */
    for (i = 0; i < MAXAG; i++) {
        snprintf(id, sizeof(id), "ag%d", i);
        add_agent(s, id, "cpus:8;mem:1024");
    }
    for (k = 0; k < 20; k++) {
        snprintf(id, sizeof(id), "f%02d", k);
        snprintf(role, sizeof(role), "r%02d", k);
        add_fw(s, id, role);
    }
    /* f00 refuses ag0 for good the first time it is offered it. */
    for (i = 0; i < 400; i++) {
        struct sfw *f0 = &s->fw[0];
        size_t h;

        finish_random(s, 0.05);
        alloc_run(s->a);
        for (h = 0; h < f0->nheld; h++)
            if (offer_agent(s, f0->held[h]) == 0) {
                ck_assert_int_eq(alloc_decline(s->a, f0->fw, f0->held[h], 1e6),
                                 0);
                held_remove(f0, f0->held[h]);
                refused++;
                break;
            }
        for (k = 0; k < 20; k++)
            fill_all(s, &s->fw[k]);
        check_totals(s, MAXAG * 8, MAXAG * 1024);
        if (i >= 200)
            for (k = 0; k < 20; k++)
                sum[k] += fw_scalar(s, &s->fw[k], "cpus");
    }
    for (k = 0; k < 20; k++) {
        double want = MAXAG * 8 * (1 + k % 4) / wsum, got = sum[k] / 200;

        /* Offers are whole agents' free resources, so a role may be a
         * task (1 cpu) over or under its part. */
        ck_assert_msg(fabs(got - want) < fmax(0.05 * want, 1.0),
                      "role r%02d (weight %d) holds %.2f cpus, want %.2f", k,
                      1 + k % 4, got, want);
    }
    /* ag0 was offered to f00 once, and runs the others' tasks. */
    ck_assert_int_eq(refused, 1);
    n = 0;
    for (i = 0; i < (int)s->ntasks; i++)
        if (s->tasks[i].ag == 0) {
            ck_assert_ptr_ne(s->tasks[i].fw, &s->fw[0]);
            n++;
        }
    ck_assert_int_gt(n, 0);
    sim_free(s);
}
END_TEST

/* ---- reservations ---- */

/* No resource of o is reserved for another role than role. */
static void assert_roles_only(const struct alloc_offer *o, const char *role)
{
    const struct agora_resources *r = alloc_offer_resources(o);
    size_t i;

    for (i = 0; i < r->n; i++)
        ck_assert_msg(strcmp(r->v[i].role, "*") == 0 ||
                          strcmp(r->v[i].role, role) == 0,
                      "a framework of role %s was offered %s(%s)", role,
                      r->v[i].name, r->v[i].role);
}

START_TEST(reservations)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *st, *an;
    struct alloc_offer *o;
    struct agora_resources bad = parse("cpus(analytics):1"), placed = {0};
    const char *texts[1];
    size_t b = 99;
    int i;

    add_agent(s, "r1", "cpus(analytics):2;cpus:2");
    st = add_fw(s, "st", "*");

    /* Alone, role * sees the unreserved part only. */
    alloc_run(s->a);
    ck_assert_uint_eq(st->nheld, 1);
    o = st->held[0];
    ck_assert_str_eq(fmt(alloc_offer_resources(o)), "cpus:2");
    /* ... and cannot take the reserved part, neither from the offer nor
     * directly; nothing changes. */
    texts[0] = "cpus(analytics):1";
    ck_assert_int_eq(accept_texts(s, st, o, texts, 1, &b), AGORA_EINVAL);
    ck_assert_uint_eq(b, 0);
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], st->fw, &bad, 0, &placed),
                     AGORA_EINVAL);
    ck_assert_uint_eq(placed.n, 0);
    check_totals(s, 4, 0);
    decline_all(s, st, 0);

    /* A framework of role analytics is offered its reservation, and the
     * unreserved part too when it is free. */
    an = add_fw(s, "an", "analytics");
    alloc_fw_suppress(s->a, st->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(st->nheld, 0);
    ck_assert_uint_eq(an->nheld, 1);
    o = an->held[0];
    ck_assert_double_eq(
        scalar_of(alloc_offer_resources(o), "cpus", "analytics"), 2);
    ck_assert_double_eq(scalar_of(alloc_offer_resources(o), "cpus", "*"), 2);
    /* A task of plain cpus takes the reservation first. */
    texts[0] = "cpus:3";
    ck_assert_int_eq(accept_texts(s, an, o, texts, 1, NULL), 0);
    ck_assert_double_eq(scalar_of(&s->tasks[0].placed, "cpus", "analytics"), 2);
    ck_assert_double_eq(scalar_of(&s->tasks[0].placed, "cpus", "*"), 1);
    check_totals(s, 4, 0);
    finish(s, 0);

    /* Both compete for many cycles: * never sees cpus(analytics). */
    alloc_fw_revive(s->a, st->fw);
    for (i = 0; i < 100; i++) {
        size_t k;

        alloc_run(s->a);
        for (k = 0; k < st->nheld; k++)
            assert_roles_only(st->held[k], "*");
        for (k = 0; k < an->nheld; k++)
            assert_roles_only(an->held[k], "analytics");
        check_totals(s, 4, 0);
        /* Accept one cpu here and there, finish some, decline the rest. */
        if (an->nheld && rnd01(s) < 0.5) {
            texts[0] = "cpus:1";
            ck_assert_int_eq(accept_texts(s, an, an->held[0], texts, 1, NULL),
                             0);
        }
        if (st->nheld && rnd01(s) < 0.5) {
            texts[0] = "cpus:1";
            ck_assert_int_eq(accept_texts(s, st, st->held[0], texts, 1, NULL),
                             0);
        }
        decline_all(s, st, 0);
        decline_all(s, an, 0);
        finish_random(s, 0.3);
    }
    ck_assert_uint_gt(st->received, 10);
    ck_assert_uint_gt(an->received, 10);
    /* A task of st never landed in the reservation. */
    while (s->ntasks) {
        if (s->tasks[0].fw == st)
            ck_assert_ptr_null(
                agora_resources_find(&s->tasks[0].placed, "cpus", "analytics"));
        finish(s, 0);
    }
    check_totals(s, 4, 0);
    agora_resources_free(&bad);
    sim_free(s);
}
END_TEST

/* ---- decline and refuse filters ---- */

START_TEST(decline_refuse_lazy)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f1, *f2;
    double t0;
    int n = 0;

    add_agent(s, "x", "cpus:4;mem:4096");
    f1 = add_fw(s, "f1", NULL);
    f2 = add_fw(s, "f2", NULL);
    alloc_run(s->a);
    /* Equal shares: the framework of the smaller id goes first. */
    ck_assert_uint_eq(f1->nheld, 1);
    ck_assert_uint_eq(f2->nheld, 0);
    t0 = ev_time();
    decline_all(s, f1, 0.3);
    /* Within the filter, x goes to the others, never to f1. */
    while (ev_time() - t0 < 0.2) {
        alloc_run(s->a);
        ck_assert_uint_eq(f1->received, 1);
        ck_assert_uint_eq(f2->nheld, 1);
        decline_all(s, f2, 0);
        n++;
        usleep(10000);
    }
    ck_assert_int_gt(n, 0);
    usleep(150000);
    /* Expired: f1 gets x again (the filter is dropped lazily). */
    alloc_run(s->a);
    ck_assert_uint_eq(f1->received, 2);
    ck_assert_uint_eq(f1->nheld, 1);
    ck_assert_uint_eq(f2->nheld, 0);

    /* With no one else and no timers, an expired filter is noticed
     * the next time the agent is considered. */
    alloc_fw_suppress(s->a, f2->fw);
    t0 = ev_time();
    decline_all(s, f1, 0.2);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->received, 2);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->received, 2);
    usleep(250000);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->received, 3);

    /* refuse_seconds < 0 is the default (5 s here). */
    decline_all(s, f1, -1);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->received, 3);
    sim_free(s);
}
END_TEST

/*
 * Mesos' filters are by resources: a framework that declines the nearly
 * empty leftover of an agent refuses offers holding no more than that,
 * not the agent. Once a task ends there, the agent is offered again at
 * once, within the filter's time.
 */
START_TEST(decline_filters_resources_not_agent)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    const char *three[] = {"cpus:1;mem:128", "cpus:1;mem:128", "cpus:1;mem:128"};
    struct sfw *f1;
    double cpus;

    add_agent(s, "x", "cpus:3.5;mem:4096");
    f1 = add_fw(s, "f1", NULL);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 1);
    ck_assert_int_eq(accept_texts(s, f1, f1->held[0], three, 3, NULL), 0);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    /* The leftover (cpus:0.5) is declined for a long time. */
    ck_assert_uint_eq(f1->nheld, 1);
    cpus = agora_resources_scalar(alloc_offer_resources(f1->held[0]), "cpus");
    ck_assert(fabs(cpus - 0.5) < 1e-9);
    decline_all(s, f1, 1000);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 0); /* the same leftover: refused */
    /* A task ends: more is free than was declined, so x comes back. */
    finish(s, 0);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 1);
    cpus = agora_resources_scalar(alloc_offer_resources(f1->held[0]), "cpus");
    ck_assert(fabs(cpus - 1.5) < 1e-9);
    /* Declined again, the bigger leftover is refused in its turn. */
    decline_all(s, f1, 1000);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 0);
    /* Revive clears every filter. */
    alloc_fw_revive(s->a, f1->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 1);
    sim_free(s);
}
END_TEST

/* Loop test: f1 declines for 0.2 s, f2 for long; the filter timer alone
 * must bring x back to f1. */
static double refuse_t0;

static void f1_hook(struct sim *s, struct sfw *f)
{
    if (f->received == 1) {
        refuse_t0 = ev_now(s->loop);
        decline_all(s, f, 0.2);
    } else {
        ev_break(s->loop, EVBREAK_ALL);
    }
}

static void f2_hook(struct sim *s, struct sfw *f)
{
    decline_all(s, f, 100);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)w;
    (void)events;
    ev_break(loop, EVBREAK_ALL);
}

START_TEST(decline_refuse_loop)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sim *s = sim_new(loop, NULL, NULL);
    struct sfw *f1, *f2;
    ev_timer deadline;
    double waited;

    ev_timer_init(&deadline, on_deadline, 3.0, 0.);
    ev_timer_start(loop, &deadline);
    add_agent(s, "x", "cpus:4;mem:4096");
    f1 = add_fw(s, "f1", NULL);
    f1->hook = f1_hook;
    f2 = add_fw(s, "f2", NULL);
    f2->hook = f2_hook;
    /* No alloc_run by hand: the allocator schedules itself. */
    ev_run(loop, 0);
    ck_assert_uint_eq(f1->received, 2);
    ck_assert_uint_eq(f2->received, 1);
    waited = f1->last_offer_at - refuse_t0;
    ck_assert_msg(waited >= 0.19 && waited < 0.5,
                  "re-offered to f1 after %.3f s (refuse 0.2 s)", waited);
    ck_assert_uint_eq(f1->nheld, 1);
    ev_timer_stop(loop, &deadline);
    sim_free(s);
    ev_loop_destroy(loop);
}
END_TEST

/* ---- suppress and revive ---- */

START_TEST(suppress_revive)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f1, *f2;
    struct alloc_totals t;
    int x, i;

    x = add_agent(s, "x", "cpus:4;mem:4096");
    add_agent(s, "y", "cpus:4;mem:4096");
    f1 = add_fw(s, "f1", NULL);
    f2 = add_fw(s, "f2", NULL);
    alloc_fw_suppress(s->a, f1->fw);
    for (i = 0; i < 10; i++) {
        alloc_run(s->a);
        ck_assert_uint_eq(f2->nheld, 2);
        decline_all(s, f2, 0);
    }
    ck_assert_uint_eq(f1->received, 0);
    /* Nobody wants offers: nothing goes out. */
    alloc_fw_suppress(s->a, f2->fw);
    alloc_run(s->a);
    alloc_get_totals(s->a, &t);
    ck_assert_double_eq(t.offered[0], 0);
    ck_assert_uint_eq(total_received(s), 20);
    /* Revive: offers at once (the next cycle). */
    alloc_fw_revive(s->a, f1->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 2);
    /* Offers held while suppressed stay held. */
    alloc_fw_suppress(s->a, f1->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 2);
    ck_assert_uint_eq(f1->rescinded, 0);
    alloc_fw_revive(s->a, f1->fw);

    /* Revive clears refuse filters: x refused for long, y not. */
    for (i = 0; f1->nheld; i++) {
        struct alloc_offer *o = f1->held[f1->nheld - 1];

        ck_assert_int_eq(
            alloc_decline(s->a, f1->fw, o, offer_agent(s, o) == x ? 1000 : 0),
            0);
        f1->nheld--;
    }
    for (i = 0; i < 5; i++) {
        alloc_run(s->a);
        ck_assert_uint_eq(f1->nheld, 1);
        ck_assert_int_ne(offer_agent(s, f1->held[0]), x);
        decline_all(s, f1, 0);
    }
    alloc_fw_revive(s->a, f1->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 2);
    ck_assert_uint_eq(f2->received, 20);
    sim_free(s);
}
END_TEST

/* ---- rescinds ---- */

START_TEST(rescind_on_deactivate)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f1;
    struct alloc_offer *ox = NULL, *oy = NULL;
    struct alloc_stats st;
    char idx[64];
    int x, y;
    size_t i;

    x = add_agent(s, "x", "cpus:4;mem:4096");
    y = add_agent(s, "y", "cpus:2;mem:2048");
    f1 = add_fw(s, "f1", NULL);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 2);
    for (i = 0; i < 2; i++)
        if (offer_agent(s, f1->held[i]) == x)
            ox = f1->held[i];
        else
            oy = f1->held[i];
    ck_assert(ox && oy);
    snprintf(idx, sizeof(idx), "%s", alloc_offer_id(ox));
    check_totals(s, 6, 6144);

    alloc_agent_activate(s->a, s->ag[x], 0);
    ck_assert_uint_eq(f1->rescinded, 1);
    ck_assert_str_eq(s->last_rescind, idx);
    ck_assert_ptr_eq(s->last_rescind_fw, f1);
    ck_assert_ptr_null(alloc_offer_find(s->a, idx));
    ck_assert_uint_eq(f1->nheld, 1);
    ck_assert_ptr_eq(f1->held[0], oy);
    alloc_get_stats(s->a, &st);
    ck_assert_uint_eq(st.offers_rescinded, 1);
    ck_assert_uint_eq(st.outstanding, 1);
    /* An inactive agent counts for nothing and is offered to no one. */
    check_totals(s, 2, 2048);
    decline_all(s, f1, 0);
    alloc_dirty_all(s->a);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 1);
    ck_assert_int_eq(offer_agent(s, f1->held[0]), y);
    /* Back: offered again. */
    alloc_agent_activate(s->a, s->ag[x], 1);
    alloc_run(s->a);
    ck_assert_uint_eq(f1->nheld, 2);
    check_totals(s, 6, 6144);
    /* Removal rescinds too. */
    alloc_agent_remove(s->a, s->ag[y]);
    ck_assert_uint_eq(f1->rescinded, 2);
    ck_assert_uint_eq(f1->nheld, 1);
    ck_assert_ptr_null(alloc_agent_find(s->a, "y"));
    s->nag = 1;
    check_totals(s, 4, 4096);
    sim_free(s);
}
END_TEST

/* ---- ports ---- */

/* A task text of one cpu and k ports picked at random from o's ranges
 * (each chosen port once). */
static void ports_task(struct sim *s, const struct alloc_offer *o,
                       unsigned char *taken, int k, char *out, size_t len)
{
    const struct agora_resource *p =
        agora_resources_find(alloc_offer_resources(o), "ports", NULL);
    uint64_t cand[PORT_HI - PORT_LO + 1];
    size_t nc = 0, i, j;
    int n = snprintf(out, len, "cpus:0.1;mem:32;ports:[");

    for (i = 0; p && i < p->nranges; i++)
        for (j = p->ranges[i].begin; j <= p->ranges[i].end; j++)
            if (!taken[j - PORT_LO])
                cand[nc++] = j;
    for (i = 0; i < (size_t)k && nc; i++) {
        size_t c = rnd(s) % nc;
        uint64_t port = cand[c];

        cand[c] = cand[--nc];
        taken[port - PORT_LO] = 1;
        n += snprintf(out + n, len - (size_t)n, "%s%llu-%llu", i ? "," : "",
                      (unsigned long long)port, (unsigned long long)port);
    }
    snprintf(out + n, len - (size_t)n, "]");
}

START_TEST(ports_never_double)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    int i, bad_tries = 0;

    add_agent(s, "p0", "cpus:8;mem:8192;ports:[31000-31009,31012-31019]");
    add_agent(s, "p1", "cpus:8;mem:8192;ports:[31000-31019]");
    add_fw(s, "pa", NULL);
    add_fw(s, "pb", "other");
    for (i = 0; i < 300; i++) {
        size_t k;

        alloc_run(s->a);
        for (k = 0; k < s->nfw; k++) {
            struct sfw *f = &s->fw[k];

            while (f->nheld) {
                struct alloc_offer *o = f->held[f->nheld - 1];
                unsigned char taken[PORT_HI - PORT_LO + 1];
                char texts[3][256];
                const char *tv[3];
                int nt = (int)(rnd(s) % 3) + 1, t;

                memset(taken, 0, sizeof(taken));
                for (t = 0; t < nt; t++) {
                    ports_task(s, o, taken, (int)(rnd(s) % 3) + 1, texts[t],
                               sizeof(texts[t]));
                    tv[t] = texts[t];
                }
                if (rnd01(s) < 0.2) {
                    /* Cheat: the last task takes a port in use or one the
                     * agent does not have. */
                    int ag = offer_agent(s, o);
                    uint64_t used = 0, p;
                    char before[1024], after[1024];
                    struct alloc_totals t0, t1;
                    size_t b = 99;

                    for (p = PORT_LO; p <= PORT_HI && !used; p++)
                        if (s->ports[ag][p - PORT_LO])
                            used = p;
                    snprintf(texts[nt - 1], sizeof(texts[nt - 1]),
                             "cpus:0.1;mem:32;ports:[%llu-%llu]",
                             (unsigned long long)(used ? used : 40000),
                             (unsigned long long)(used ? used : 40000));
                    snprintf(before, sizeof(before), "%s",
                             fmt(alloc_offer_resources(o)));
                    alloc_get_totals(s->a, &t0);
                    ck_assert_int_eq(accept_texts(s, f, o, tv, (size_t)nt, &b),
                                     AGORA_EINVAL);
                    ck_assert_uint_eq(b, (size_t)nt - 1);
                    /* Nothing changed: the offer is there, whole. */
                    ck_assert_ptr_eq(alloc_offer_find(s->a, alloc_offer_id(o)),
                                     o);
                    snprintf(after, sizeof(after), "%s",
                             fmt(alloc_offer_resources(o)));
                    ck_assert_str_eq(before, after);
                    alloc_get_totals(s->a, &t1);
                    ck_assert_mem_eq(&t0, &t1, sizeof(t0));
                    bad_tries++;
                    nt--;
                }
                if (nt == 0 || accept_texts(s, f, o, tv, (size_t)nt, NULL)) {
                    ck_assert_int_eq(alloc_decline(s->a, f->fw, o, 0), 0);
                    held_remove(f, o);
                }
            }
        }
        check_totals(s, 16, 16384);
        finish_random(s, 0.2);
    }
    ck_assert_int_gt(bad_tries, 20);
    ck_assert_uint_gt(s->fw[0].received, 50);
    ck_assert_uint_gt(s->fw[1].received, 50);
    sim_free(s);
}
END_TEST

START_TEST(ports_not_offered)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *fa, *fb, *owner, *other;
    struct alloc_offer *o;
    struct agora_resources r, placed[1] = {{NULL, 0}};
    const struct agora_resources *rp[1] = {&r};
    const char *tv[2];
    char err[256] = "";
    size_t b = 99;

    add_agent(s, "p0", "cpus:2;mem:2048;ports:[31000-31001]");
    add_agent(s, "p1", "cpus:2;mem:2048;ports:[31000-31001]");
    fa = add_fw(s, "fa", NULL);
    fb = add_fw(s, "fb", NULL);
    alloc_run(s->a);
    ck_assert_uint_eq(fa->nheld, 1);
    ck_assert_uint_eq(fb->nheld, 1);
    /* Each takes port 31000 of the agent it was offered. */
    tv[0] = "cpus:1;mem:128;ports:[31000-31000]";
    ck_assert_int_eq(accept_texts(s, fa, fa->held[0], tv, 1, NULL), 0);
    ck_assert_int_eq(accept_texts(s, fb, fb->held[0], tv, 1, NULL), 0);
    /* The remainders come back: cpus:1;mem:1920;ports:[31001-31001]. */
    alloc_run(s->a);
    ck_assert_uint_eq(fa->nheld + fb->nheld, 2);
    owner = fa->nheld ? fa : fb;
    other = owner == fa ? fb : fa;
    o = owner->held[0];
    /* Another framework cannot accept it. */
    r = parse("cpus:0.5;mem:64;ports:[31001-31001]");
    ck_assert_int_eq(
        alloc_accept(s->a, other->fw, o, rp, 1, placed, &b, err, sizeof(err)),
        AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "another framework"));
    agora_resources_free(&r);
    /* Port 31000 is in use: not in the offer, the second task is bad. */
    tv[0] = "cpus:0.5;mem:64;ports:[31001-31001]";
    tv[1] = "cpus:0.5;mem:64;ports:[31000-31000]";
    ck_assert_int_eq(accept_texts(s, owner, o, tv, 2, &b), AGORA_EINVAL);
    ck_assert_uint_eq(b, 1);
    /* The same port twice in one accept: the second task is bad. */
    tv[1] = tv[0];
    ck_assert_int_eq(accept_texts(s, owner, o, tv, 2, &b), AGORA_EINVAL);
    ck_assert_uint_eq(b, 1);
    ck_assert_int_eq(accept_texts(s, owner, o, tv, 1, NULL), 0);
    check_totals(s, 4, 4096);
    sim_free(s);
}
END_TEST

/* ---- quota ---- */

/* Runs one greedy cycle and returns the cpus role q's framework holds. */
static double quota_run(const char *quota, int churn_cycles, double *min_q)
{
    struct sim *s = sim_new(NULL, "big=10", quota);
    struct sfw *fq;
    double first;
    char id[16];
    int i;

    for (i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "ag%d", i);
        add_agent(s, id, "cpus:2;mem:2048");
    }
    fq = add_fw(s, "fq", "q");
    add_fw(s, "fb", "big");
    alloc_run(s->a);
    fill_all(s, &s->fw[0]);
    fill_all(s, &s->fw[1]);
    first = fw_scalar(s, fq, "cpus");
    *min_q = first;
    for (i = 0; i < churn_cycles; i++) {
        greedy_cycle(s);
        check_totals(s, 8, 8192);
        if (fw_scalar(s, fq, "cpus") < *min_q)
            *min_q = fw_scalar(s, fq, "cpus");
    }
    sim_free(s);
    return first;
}

START_TEST(quota_first)
{
    double min_q;

    /* Without quota, weight 10 against 1 leaves q a quarter of the
     * cluster after the first cycle... */
    ck_assert_double_eq(quota_run(NULL, 0, &min_q), 2);
    /* ... with quota q gets its 4 cpus first, and keeps them as tasks
     * churn (what it frees it is offered first again). */
    ck_assert_double_eq(quota_run("q:cpus=4", 300, &min_q), 4);
    ck_assert_double_eq(min_q, 4);
}
END_TEST

/* ---- accept, use, release, totals ---- */

START_TEST(accept_remainder_and_accounting)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f;
    struct agora_resources want = parse("cpus:2;mem:256"), placed = {0};
    struct agora_resources big = parse("cpus:100"), none = {0};
    struct alloc_stats st;
    const char *tv[1] = {"cpus:1;mem:128"};
    struct alloc_totals t0, t1;

    add_agent(s, "x", "cpus:8;mem:8192");
    f = add_fw(s, "f", NULL);
    alloc_run(s->a);
    ck_assert_uint_eq(f->nheld, 1);
    ck_assert_str_eq(fmt(alloc_offer_resources(f->held[0])), "cpus:8;mem:8192");
    check_totals(s, 8, 8192);
    ck_assert_double_eq_tol(alloc_fw_share(f->fw), 1, 1e-9);

    /* Accept one task: the rest is free at once... */
    ck_assert_int_eq(accept_texts(s, f, f->held[0], tv, 1, NULL), 0);
    check_totals(s, 8, 8192);
    ck_assert_double_eq_tol(alloc_fw_share(f->fw), 1.0 / 8, 1e-9);
    /* ... and offered again in the next cycle. */
    alloc_run(s->a);
    ck_assert_uint_eq(f->nheld, 1);
    ck_assert_str_eq(fmt(alloc_offer_resources(f->held[0])), "cpus:7;mem:8064");
    decline_all(s, f, 1000);

    /* A direct use takes from what is free, counts for the framework. */
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], f->fw, &want, 0, &placed), 0);
    ck_assert_str_eq(fmt(&placed), "cpus:2;mem:256");
    task_push(s, f, 0, &placed);
    check_totals(s, 8, 8192);
    ck_assert_double_eq_tol(alloc_fw_share(f->fw), 3.0 / 8, 1e-9);
    /* What does not fit is refused and changes nothing. */
    alloc_get_totals(s->a, &t0);
    memset(&placed, 0, sizeof(placed));
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], f->fw, &big, 0, &placed),
                     AGORA_EINVAL);
    ck_assert_uint_eq(placed.n, 0);
    alloc_get_totals(s->a, &t1);
    ck_assert_mem_eq(&t0, &t1, sizeof(t0));
    /* A framework that is not registered (NULL) may use too. */
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], NULL, &want, 0, &placed), 0);
    task_push(s, NULL, 0, &placed);
    check_totals(s, 8, 8192);
    ck_assert_double_eq_tol(alloc_fw_share(f->fw), 3.0 / 8, 1e-9);

    /* Releases free everything again. */
    while (s->ntasks)
        finish(s, 0);
    check_totals(s, 8, 8192);
    ck_assert_double_eq(alloc_fw_share(f->fw), 0);
    alloc_fw_revive(s->a, f->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(f->nheld, 1);
    ck_assert_str_eq(fmt(alloc_offer_resources(f->held[0])), "cpus:8;mem:8192");
    /* Accepting nothing is declining without a filter. */
    ck_assert_int_eq(accept_texts(s, f, f->held[0], NULL, 0, NULL), 0);
    check_totals(s, 8, 8192);
    alloc_run(s->a);
    ck_assert_uint_eq(f->nheld, 1);
    alloc_get_stats(s->a, &st);
    ck_assert_uint_eq(st.offers_sent, 4);
    ck_assert_uint_eq(st.offers_accepted, 2);
    ck_assert_uint_eq(st.offers_declined, 1);
    ck_assert_uint_eq(st.outstanding, 1);
    ck_assert_uint_ge(st.runs, 4);
    /* Removing the framework returns its offers without a rescind. */
    alloc_fw_remove(s->a, f->fw);
    f->nheld = 0;
    ck_assert_uint_eq(f->rescinded, 0);
    check_totals(s, 8, 8192);
    alloc_get_stats(s->a, &st);
    ck_assert_uint_eq(st.outstanding, 0);
    agora_resources_free(&want);
    agora_resources_free(&big);
    agora_resources_free(&none);
    sim_free(s);
}
END_TEST

/* ---- bugs ---- */

/*
 * BUG 1 (pick_fw): with more than 64 frameworks of a role holding a
 * refuse filter for an agent, the others of the role are never offered
 * it while the filters last.
 */
START_TEST(bug_many_filters_starve)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    char id[16];
    size_t i;

    add_agent(s, "x", "cpus:4;mem:4096");
    for (i = 0; i < 70; i++) {
        snprintf(id, sizeof(id), "f%02zu", i);
        add_fw(s, id, NULL);
    }
    /* Each cycle the one offered x refuses it for long. */
    for (i = 0; i < 70; i++) {
        size_t k;

        alloc_run(s->a);
        for (k = 0; k < s->nfw; k++)
            decline_all(s, &s->fw[k], 1000);
    }
    for (i = 0; i < 70; i++)
        ck_assert_msg(s->fw[i].received == 1,
                      "framework %s was offered x %zu times", s->fw[i].id,
                      s->fw[i].received);
    sim_free(s);
}
END_TEST

/*
 * BUG 2 (alloc_use force + alloc_release): resources forced beyond what
 * is free come back in full when released, so the agent offers more than
 * it has.
 */
START_TEST(bug_forced_use_release)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f;
    struct agora_resources r = parse("cpus:6;mem:1024"), placed = {0};
    struct alloc_totals t;

    add_agent(s, "x", "cpus:4;mem:4096");
    f = add_fw(s, "f", NULL);
    alloc_fw_suppress(s->a, f->fw);
    /* An agent reports a task bigger than what it has (force). */
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], f->fw, &r, 1, &placed), 0);
    alloc_release(s->a, s->ag[0], f->fw, &placed);
    alloc_get_totals(s->a, &t);
    ck_assert_double_eq(t.total[0], 4);
    ck_assert_msg(t.used[0] == 0, "used cpus %g after release", t.used[0]);
    alloc_fw_revive(s->a, f->fw);
    alloc_run(s->a);
    ck_assert_uint_eq(f->nheld, 1);
    ck_assert_str_eq(fmt(alloc_offer_resources(f->held[0])), "cpus:4;mem:4096");
    agora_resources_free(&r);
    agora_resources_free(&placed);
    sim_free(s);
}
END_TEST

/*
 * BUG 3 (alloc_agent_remove): what frameworks hold on a removed agent
 * stays in their allocation, so their shares stay high for good (and
 * agents.c, which removes and re-adds an agent whose resources changed
 * and then counts its tasks again, counts them twice).
 */
START_TEST(bug_agent_remove_keeps_share)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f;
    struct agora_resources r = parse("cpus:4;mem:1024"), placed = {0};

    add_agent(s, "x", "cpus:4;mem:4096");
    add_agent(s, "y", "cpus:4;mem:4096");
    f = add_fw(s, "f", NULL);
    alloc_fw_suppress(s->a, f->fw);
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], f->fw, &r, 0, &placed), 0);
    ck_assert_double_eq_tol(alloc_fw_share(f->fw), 0.5, 1e-9);
    alloc_agent_remove(s->a, s->ag[0]);
    ck_assert_msg(alloc_fw_share(f->fw) == 0,
                  "share %g after its only agent went", alloc_fw_share(f->fw));
    agora_resources_free(&r);
    agora_resources_free(&placed);
    sim_free(s);
}
END_TEST

/*
 * BUG 4 (deliver): an offer made in a cycle but not yet delivered can be
 * rescinded by an earlier framework's on_offer (here it deactivates the
 * agent; in the master an accept whose launch finds the agent gone could
 * do it). The rescind goes to a framework that never saw the offer, and
 * the freed offer is then delivered (use after free under ASan).
 */
static void deactivate_y(struct sim *s, struct sfw *f)
{
    if (f == &s->fw[0] && s->nag == 2) {
        alloc_agent_activate(s->a, s->ag[1], 0);
        s->nag = 1;
    }
}

START_TEST(bug_rescind_before_delivery)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f1, *f2;

    add_agent(s, "x", "cpus:4;mem:4096");
    add_agent(s, "y", "cpus:4;mem:4096");
    f1 = add_fw(s, "f1", NULL);
    f2 = add_fw(s, "f2", NULL);
    s->deliver_hook = deactivate_y;
    alloc_run(s->a);
    ck_assert_uint_eq(f1->received, 1);
    ck_assert_msg(f2->rescinded == 0, "f2 got a rescind for an offer it "
                                      "never received");
    ck_assert_uint_eq(f2->received, 0);
    ck_assert_uint_eq(f2->nheld, 0);
    sim_free(s);
}
END_TEST

/*
 * BUG 5 (alloc_fw_remove): what a removed framework still ran stays in
 * its role's allocation for good: the master releases those tasks with
 * fw NULL once the framework is gone, which the role never sees.
 */
START_TEST(bug_fw_remove_keeps_role_alloc)
{
    struct sim *s = sim_new(NULL, NULL, NULL);
    struct sfw *f1;
    struct agora_resources r = parse("cpus:2;mem:512"), placed = {0};
    const char *names[1] = {"r"};
    double weight, share;
    int i;

    add_agent(s, "x", "cpus:4;mem:4096");
    f1 = add_fw(s, "f1", "r");
    add_fw(s, "f2", "r");
    add_fw(s, "f3", "s");
    for (i = 0; i < 3; i++)
        alloc_fw_suppress(s->a, s->fw[i].fw);
    ck_assert_int_eq(alloc_use(s->a, s->ag[0], f1->fw, &r, 0, &placed), 0);
    alloc_run(s->a);
    roles_json(s, names, &weight, &share, 1);
    ck_assert_double_eq_tol(share, 0.5, 1e-9);
    alloc_fw_revive(s->a, s->fw[1].fw);
    alloc_fw_revive(s->a, s->fw[2].fw);
    /* The framework goes; its task ends afterwards. */
    alloc_fw_remove(s->a, f1->fw);
    alloc_release(s->a, s->ag[0], NULL, &placed);
    roles_json(s, names, &weight, &share, 1);
    ck_assert_msg(share == 0,
                  "role r keeps a share of %g with nothing "
                  "running",
                  share);
    /* So r (tied with s at nothing held, first by name) is served
     * before s. */
    alloc_run(s->a);
    ck_assert_uint_eq(s->fw[1].received, 1);
    ck_assert_uint_eq(s->fw[2].received, 0);
    agora_resources_free(&r);
    agora_resources_free(&placed);
    sim_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    TCase *bugs = tcase_create("bugs");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, bad_weights_and_quota);
    tcase_add_test(tc, drf_weights_converge);
    tcase_add_test(tc, drf_many_roles);
    tcase_add_test(tc, reservations);
    tcase_add_test(tc, decline_refuse_lazy);
    tcase_add_test(tc, decline_refuse_loop);
    tcase_add_test(tc, decline_filters_resources_not_agent);
    tcase_add_test(tc, suppress_revive);
    tcase_add_test(tc, rescind_on_deactivate);
    tcase_add_test(tc, ports_never_double);
    tcase_add_test(tc, ports_not_offered);
    tcase_add_test(tc, quota_first);
    tcase_add_test(tc, accept_remainder_and_accounting);
    suite_add_tcase(s, tc);
    tcase_add_test(bugs, bug_many_filters_starve);
    tcase_add_test(bugs, bug_forced_use_release);
    tcase_add_test(bugs, bug_agent_remove_keeps_share);
    tcase_add_test(bugs, bug_rescind_before_delivery);
    tcase_add_test(bugs, bug_fw_remove_keeps_role_alloc);
    suite_add_tcase(s, bugs);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
