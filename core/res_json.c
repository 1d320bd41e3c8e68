/*
 * res_json.c - resources in JSON as Mesos writes them (see res_json.h).
 */
#include "res_json.h"

#include <stdlib.h>
#include <string.h>

void res_json_write(struct agora_jw *w, const struct agora_resources *r)
{
    size_t i;

    agora_jw_obj_open(w);
    for (i = 0; i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];
        struct agora_resources one = {(struct agora_resource *)x, 1};
        char *text;

        if (strcmp(x->role, "*") != 0)
            continue; /* reservations are listed apart */
        if (x->type == AGORA_SCALAR) {
            agora_jw_knum(w, x->name, x->scalar);
            continue;
        }
        /* Ranges and sets as Mesos writes them: "[31000-32000]". */
        text = agora_resources_text(&one);
        agora_jw_kstr(w, x->name, text ? strchr(text, ':') + 1 : NULL);
        free(text);
    }
    agora_jw_obj_close(w);
}
