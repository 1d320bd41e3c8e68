/*
 * res_json.c - resources in JSON as Mesos writes them (see res_json.h):
 * Mesos' model(const Resources&) of src/common/http.cpp.
 */
#include "res_json.h"

#include <stdlib.h>
#include <string.h>

/* Whether x is to be written: of role, or of any role when role is NULL. */
static int of_role(const struct agora_resource *x, const char *role)
{
    return role == NULL || strcmp(x->role, role) == 0;
}

/* Whether a resource of x's name came before x among those written. */
static int seen_before(const struct agora_resources *r, size_t i,
                       const char *role)
{
    size_t j;

    for (j = 0; j < i; j++)
        if (of_role(&r->v[j], role) && strcmp(r->v[j].name, r->v[i].name) == 0)
            return 1;
    return 0;
}

/* The total of scalar name over r's resources of role. */
static double scalar_sum(const struct agora_resources *r, const char *name,
                         const char *role)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < r->n; i++)
        if (of_role(&r->v[i], role) && r->v[i].type == AGORA_SCALAR &&
            strcmp(r->v[i].name, name) == 0)
            sum += r->v[i].scalar;
    return sum;
}

static int is_default(const char *name)
{
    return !strcmp(name, "cpus") || !strcmp(name, "gpus") ||
           !strcmp(name, "mem") || !strcmp(name, "disk");
}

void res_json_write_role(struct agora_jw *w, const struct agora_resources *r,
                         const char *role)
{
    static const char *const defaults[] = {"cpus", "gpus", "mem", "disk"};
    size_t i;

    agora_jw_obj_open(w);
    /* Mesos writes these four whatever the resources hold. */
    for (i = 0; i < 4; i++)
        agora_jw_knum(w, defaults[i], scalar_sum(r, defaults[i], role));
    for (i = 0; i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];
        struct agora_resources one = {(struct agora_resource *)x, 1};
        char *text;

        if (!of_role(x, role) || seen_before(r, i, role) ||
            (x->type == AGORA_SCALAR && is_default(x->name)))
            continue;
        if (x->type == AGORA_SCALAR) {
            agora_jw_knum(w, x->name, scalar_sum(r, x->name, role));
            continue;
        }
        /* Ranges and sets as Mesos writes them: "[31000-32000]". */
        text = agora_resources_text(&one);
        agora_jw_kstr(w, x->name, text ? strchr(text, ':') + 1 : NULL);
        free(text);
    }
    agora_jw_obj_close(w);
}

void res_json_write(struct agora_jw *w, const struct agora_resources *r)
{
    res_json_write_role(w, r, NULL);
}

void res_json_write_reserved(struct agora_jw *w,
                             const struct agora_resources *r)
{
    size_t i, j;

    agora_jw_obj_open(w);
    for (i = 0; i < r->n; i++) {
        const char *role = r->v[i].role;

        if (strcmp(role, "*") == 0)
            continue;
        for (j = 0; j < i && strcmp(r->v[j].role, role) != 0; j++)
            ;
        if (j < i)
            continue; /* the role is written already */
        agora_jw_key(w, role);
        res_json_write_role(w, r, role);
    }
    agora_jw_obj_close(w);
}

void res_json_write_full(struct agora_jw *w, const struct agora_resource *x)
{
    static const char *const types[] = {"SCALAR", "RANGES", "SET"};
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "name", x->name);
    agora_jw_kstr(w, "type", types[x->type]);
    if (x->type == AGORA_SCALAR) {
        agora_jw_key(w, "scalar");
        agora_jw_obj_open(w);
        agora_jw_knum(w, "value", x->scalar);
        agora_jw_obj_close(w);
    } else if (x->type == AGORA_RANGES) {
        agora_jw_key(w, "ranges");
        agora_jw_obj_open(w);
        agora_jw_key(w, "range");
        agora_jw_arr_open(w);
        for (i = 0; i < x->nranges; i++) {
            agora_jw_obj_open(w);
            agora_jw_kint(w, "begin", (int64_t)x->ranges[i].begin);
            agora_jw_kint(w, "end", (int64_t)x->ranges[i].end);
            agora_jw_obj_close(w);
        }
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    } else {
        agora_jw_key(w, "set");
        agora_jw_obj_open(w);
        agora_jw_key(w, "item");
        agora_jw_arr_open(w);
        for (i = 0; i < x->nitems; i++)
            agora_jw_str(w, x->items[i]);
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_kstr(w, "role", x->role);
    agora_jw_obj_close(w);
}

void res_json_write_list(struct agora_jw *w, const struct agora_resources *r)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < r->n; i++)
        res_json_write_full(w, &r->v[i]);
    agora_jw_arr_close(w);
}
