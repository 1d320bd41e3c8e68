/*
 * json_tree.c - a yajl tree written back as JSON (see json_tree.h). An
 * explicit stack of open containers replaces recursion, so a value's
 * depth costs a bounded array, never the C stack.
 */
#include "json_tree.h"

#include <stdlib.h>
#include <string.h>

struct tree_frame {
    yajl_val v; /* an open object or array */
    size_t next; /* its next member or element */
};

/* A scalar, or the opening of a container (pushed). 0, or -1 when too
 * deep. */
static int write_value(struct agora_jw *w, yajl_val v, struct tree_frame *st,
                       size_t *depth)
{
    if (YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) {
        if (*depth == JSON_TREE_DEPTH)
            return -1;
        if (YAJL_IS_OBJECT(v))
            agora_jw_obj_open(w);
        else
            agora_jw_arr_open(w);
        st[(*depth)++] = (struct tree_frame){v, 0};
    } else if (YAJL_IS_STRING(v)) {
        agora_jw_str(w, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        agora_jw_raw(w, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        agora_jw_bool(w, YAJL_IS_TRUE(v));
    } else {
        agora_jw_null(w);
    }
    return 0;
}

int json_tree_write(struct agora_jw *w, yajl_val v)
{
    struct tree_frame st[JSON_TREE_DEPTH];
    size_t depth = 0;

    if (write_value(w, v, st, &depth) != 0)
        return -1;
    while (depth > 0) {
        struct tree_frame *f = &st[depth - 1];
        int obj = YAJL_IS_OBJECT(f->v);
        size_t len = obj ? f->v->u.object.len : f->v->u.array.len;

        if (f->next == len) {
            if (obj)
                agora_jw_obj_close(w);
            else
                agora_jw_arr_close(w);
            depth--;
            continue;
        }
        if (obj)
            agora_jw_key(w, f->v->u.object.keys[f->next]);
        v = obj ? f->v->u.object.values[f->next] : f->v->u.array.values[f->next];
        f->next++;
        if (write_value(w, v, st, &depth) != 0)
            return -1;
    }
    return 0;
}

char *json_tree_text(yajl_val v)
{
    struct agora_jw *w = agora_jw_new();
    const char *json;
    char *out = NULL;
    size_t len;

    if (w == NULL)
        return NULL;
    if (json_tree_write(w, v) == 0 && (json = agora_jw_result(w, &len)))
        out = strndup(json, len);
    agora_jw_free(w);
    return out;
}
