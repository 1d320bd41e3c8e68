/*
 * alloc_view.c - the allocator's figures: cycle times, cluster totals,
 * metrics, roles, and an agent's resources as /master/slaves shows them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>

#include "alloc_int.h"
#include "log.h"
#include "res_json.h"

/* ---- figures ---- */

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

void alloc_get_stats(const struct alloc *a, struct alloc_stats *out)
{
    size_t n = a->nruns < ALLOC_RUN_WINDOW ? a->nruns : ALLOC_RUN_WINDOW;
    double v[ALLOC_RUN_WINDOW];

    *out = a->stats;
    if (n == 0)
        return;
    memcpy(v, a->run_ms, n * sizeof(v[0]));
    qsort(v, n, sizeof(v[0]), dbl_cmp);
    out->run_ms_p50 = v[(n - 1) / 2];
    out->run_ms_p99 = v[(size_t)((double)(n - 1) * 0.99)];
}

void alloc_get_totals(const struct alloc *a, struct alloc_totals *out)
{
    size_t pos = 0, i;
    void *v;
    int k;

    memset(out, 0, sizeof(*out));
    while (map_next(&a->agents, &pos, NULL, &v)) {
        struct alloc_agent *ag = v;
        struct alloc_offer *o;

        if (!ag->active)
            continue;
        for (i = 0; i < ag->npools; i++)
            for (k = 0; k < AR_N; k++) {
                out->total[k] += ar_unmilli(ag->pools[i].total.s[k]);
                out->used[k] += ar_unmilli(ag->pools[i].total.s[k] -
                                           ag->pools[i].free.s[k]);
            }
        for (o = ag->offers; o; o = o->ag_next)
            for (i = 0; i < (size_t)o->ntake; i++)
                for (k = 0; k < AR_N; k++) {
                    out->offered[k] += ar_unmilli(o->take[i].r.s[k]);
                    out->used[k] -= ar_unmilli(o->take[i].r.s[k]);
                }
    }
}

/*
 * Per role: total (its reservations; for "*" the unreserved resources of
 * active agents), offered (its outstanding offers), allocated (used by
 * its tasks plus offered, as DRF counts) and quota.
 */
static void role_figures(struct alloc *a, const struct alloc_role *r,
                         int64_t *total, int64_t *offered)
{
    size_t pos = 0, p;
    void *v;
    int k, t;

    memset(total, 0, AR_N * sizeof(*total));
    memset(offered, 0, AR_N * sizeof(*offered));
    while (map_next(&a->agents, &pos, NULL, &v)) {
        struct alloc_agent *ag = v;
        struct alloc_offer *o;

        if (!ag->active)
            continue;
        p = strcmp(r->name, "*") ? alloc_pool_of(ag, r->name) : 0;
        for (k = 0; (p > 0 || strcmp(r->name, "*") == 0) && k < AR_N; k++)
            total[k] += ag->pools[p].total.s[k];
        for (o = ag->offers; o; o = o->ag_next)
            if (o->fw->role == r)
                for (t = 0; t < o->ntake; t++)
                    for (k = 0; k < AR_N; k++)
                        offered[k] += o->take[t].r.s[k];
    }
}

static void role_metric(struct agora_jw *w, const char *role, int k,
                        const char *what, int64_t v)
{
    char key[200];

    snprintf(key, sizeof(key), "allocator/roles/%s/%s/%s", role, ar_names[k],
             what);
    agora_jw_knum(w, key, ar_unmilli(v));
}

void alloc_write_metrics(struct alloc *a, struct agora_jw *w)
{
    int64_t total[AR_N], offered[AR_N];
    struct alloc_stats st;
    size_t i;
    int k;

    alloc_get_stats(a, &st);
    agora_jw_kint(w, "allocator/allocation_runs", (int64_t)st.runs);
    agora_jw_knum(w, "allocator/allocation_run_ms", st.run_ms_last);
    agora_jw_knum(w, "allocator/allocation_run_ms_p50", st.run_ms_p50);
    agora_jw_knum(w, "allocator/allocation_run_ms_p99", st.run_ms_p99);
    agora_jw_kint(w, "allocator/offers_sent", (int64_t)st.offers_sent);
    agora_jw_kint(w, "allocator/offers_accepted", (int64_t)st.offers_accepted);
    agora_jw_kint(w, "allocator/offers_declined", (int64_t)st.offers_declined);
    agora_jw_kint(w, "allocator/offers_rescinded",
                  (int64_t)st.offers_rescinded);
    agora_jw_kint(w, "master/outstanding_offers", (int64_t)st.outstanding);
    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        role_figures(a, r, total, offered);
        for (k = 0; k < AR_N; k++) {
            role_metric(w, r->name, k, "total", total[k]);
            role_metric(w, r->name, k, "offered", offered[k]);
            role_metric(w, r->name, k, "allocated", r->alloc[k]);
            if (r->quota[k])
                role_metric(w, r->name, k, "quota", r->quota[k]);
        }
    }
}

static void write_scalars(struct agora_jw *w, const int64_t *v)
{
    int k;

    agora_jw_obj_open(w);
    for (k = 0; k < AR_N; k++)
        agora_jw_knum(w, ar_names[k], ar_unmilli(v[k]));
    agora_jw_obj_close(w);
}

/* Scalars as a list of Mesos Resources (those above 0), of role when
 * not NULL. */
static void write_resources_v1(struct agora_jw *w, const int64_t *v,
                               const char *role)
{
    int k;

    agora_jw_arr_open(w);
    for (k = 0; k < AR_N; k++) {
        if (v[k] == 0)
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", ar_names[k]);
        agora_jw_kstr(w, "type", "SCALAR");
        agora_jw_key(w, "scalar");
        agora_jw_obj_open(w);
        agora_jw_knum(w, "value", ar_unmilli(v[k]));
        agora_jw_obj_close(w);
        if (role)
            agora_jw_kstr(w, "role", role);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void alloc_write_roles_v1(struct alloc *a, struct agora_jw *w)
{
    size_t i, pos;
    void *v;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", r->name);
        agora_jw_knum(w, "weight", r->weight);
        agora_jw_key(w, "frameworks");
        agora_jw_arr_open(w);
        pos = 0;
        while (map_next(&a->fws, &pos, NULL, &v)) {
            struct alloc_fw *fw = v;

            if (fw->role != r)
                continue;
            agora_jw_obj_open(w);
            agora_jw_kstr(w, "value", fw->id);
            agora_jw_obj_close(w);
        }
        agora_jw_arr_close(w);
        agora_jw_key(w, "resources");
        write_resources_v1(w, r->alloc, r->name);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void alloc_write_quota_configs_v1(struct alloc *a, struct agora_jw *w)
{
    size_t i;
    int k;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nroles; i++) {
        const struct alloc_role *r = a->rolev[i];

        if (!r->has_quota)
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "role", r->name);
        /* agora's quota is a guarantee; its limit is the cluster. */
        agora_jw_key(w, "guarantees");
        agora_jw_obj_open(w);
        for (k = 0; k < AR_N; k++) {
            if (r->quota[k] == 0)
                continue;
            agora_jw_key(w, ar_names[k]);
            agora_jw_obj_open(w);
            agora_jw_knum(w, "value", ar_unmilli(r->quota[k]));
            agora_jw_obj_close(w);
        }
        agora_jw_obj_close(w);
        agora_jw_key(w, "limits");
        agora_jw_obj_open(w);
        agora_jw_obj_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void alloc_write_roles(struct alloc *a, struct agora_jw *w)
{
    size_t i, pos;
    void *v;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", r->name);
        agora_jw_knum(w, "weight", r->weight);
        agora_jw_key(w, "quota");
        write_scalars(w, r->quota);
        agora_jw_key(w, "allocated");
        write_scalars(w, r->alloc);
        agora_jw_knum(w, "dominant_share", alloc_dominant(a, r->alloc));
        agora_jw_key(w, "frameworks");
        agora_jw_arr_open(w);
        pos = 0;
        while (map_next(&a->fws, &pos, NULL, &v)) {
            struct alloc_fw *fw = v;

            if (fw->role != r)
                continue;
            agora_jw_obj_open(w);
            agora_jw_kstr(w, "id", fw->id);
            agora_jw_knum(w, "dominant_share", alloc_dominant(a, fw->alloc));
            agora_jw_kbool(w, "suppressed", fw->suppressed);
            agora_jw_obj_close(w);
        }
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/* The agent's resources of one view, all roles summed, into *b. */
static int agent_view(struct alloc_agent *ag, const char *which,
                      struct ar_bundle *b)
{
    struct alloc_offer *o;
    size_t i;
    int k, rc = 0;

    for (i = 0; i < ag->npools && rc == 0; i++) {
        struct pool *p = &ag->pools[i];

        if (strcmp(which, "total") == 0 || strcmp(which, "used") == 0)
            rc = ar_add(b, &p->total);
        else if (strcmp(which, "free") == 0)
            rc = ar_add(b, &p->free);
    }
    if (strcmp(which, "used") == 0) {
        /* used = total - free - offered */
        for (i = 0; i < ag->npools; i++)
            if (ar_sub(b, &ag->pools[i].free) < 0)
                ar_sub_clamp(b, &ag->pools[i].free);
        for (o = ag->offers; o; o = o->ag_next)
            for (k = 0; k < o->ntake; k++)
                if (ar_sub(b, &o->take[k].r) < 0)
                    ar_sub_clamp(b, &o->take[k].r);
    } else if (strcmp(which, "offered") == 0) {
        for (o = ag->offers; o && rc == 0; o = o->ag_next)
            for (k = 0; k < o->ntake && rc == 0; k++)
                rc = ar_add(b, &o->take[k].r);
    }
    return rc;
}

/* Writes one Mesos-style resources object of the chosen view. */
int alloc_agent_free_resources(const struct alloc_agent *ag,
                               struct agora_resources *out)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < ag->npools && rc == 0; i++)
        rc = ar_to(&ag->pools[i].free, ag->pools[i].role, out);
    return rc;
}

void alloc_agent_write(struct alloc_agent *ag, const char *which,
                       struct agora_jw *w)
{
    struct agora_resources out = {NULL, 0};
    struct ar_bundle b;
    size_t i;
    int k;

    memset(&b, 0, sizeof(b));
    agent_view(ag, which, &b);
    agora_jw_obj_open(w);
    for (k = 0; k < AR_N; k++)
        agora_jw_knum(w, ar_names[k], ar_unmilli(b.s[k]));
    memset(b.s, 0, sizeof(b.s));
    ar_to(&b, "*", &out);
    for (i = 0; i < out.n; i++) {
        struct agora_resources one = {&out.v[i], 1};
        char *s = agora_resources_text(&one);

        if (s == NULL)
            continue;
        if (out.v[i].type == AGORA_SCALAR)
            agora_jw_knum(w, out.v[i].name, out.v[i].scalar);
        else
            agora_jw_kstr(w, out.v[i].name, strchr(s, ':') + 1);
        free(s);
    }
    agora_jw_obj_close(w);
    agora_resources_free(&out);
    ar_free(&b);
}


/* ---- a framework's offers, as Mesos' /master/state lists them ---- */

int alloc_fw_offered(const struct alloc_fw *fw, struct agora_resources *sum)
{
    const struct alloc_offer *o;

    for (o = fw->offers; o; o = o->fw_next)
        if (agora_resources_add(sum, &o->view) < 0)
            return AGORA_ENOMEM;
    return 0;
}

void alloc_fw_write_offers(const struct alloc_fw *fw, struct agora_jw *w)
{
    const struct alloc_offer *o;

    agora_jw_arr_open(w);
    for (o = fw->offers; o; o = o->fw_next) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "id", o->id);
        agora_jw_kstr(w, "framework_id", fw->id);
        agora_jw_kstr(w, "slave_id", o->ag->id);
        agora_jw_key(w, "resources");
        res_json_write(w, &o->view);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

int alloc_agent_offered(const struct alloc_agent *ag,
                        struct agora_resources *sum)
{
    const struct alloc_offer *o;

    for (o = ag->offers; o; o = o->ag_next)
        if (agora_resources_add(sum, &o->view) < 0)
            return AGORA_ENOMEM;
    return 0;
}

/* ---- roles in the v1 API's shapes ---- */

void alloc_write_weights_v1(struct alloc *a, struct agora_jw *w)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nroles; i++) {
        if (a->rolev[i]->weight == 1.0)
            continue; /* Mesos lists the weights set, not the default */
        agora_jw_obj_open(w);
        agora_jw_knum(w, "weight", a->rolev[i]->weight);
        agora_jw_kstr(w, "role", a->rolev[i]->name);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void alloc_write_quota_v1(struct alloc *a, struct agora_jw *w)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nroles; i++) {
        const struct alloc_role *r = a->rolev[i];

        if (!r->has_quota)
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "role", r->name);
        agora_jw_key(w, "guarantee");
        write_resources_v1(w, r->quota, NULL);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}
