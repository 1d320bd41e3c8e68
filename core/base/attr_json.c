/*
 * attr_json.c - an agent attribute's value in JSON (see attr_json.h).
 */
#include "attr_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include <agora/json.h>

void attr_json_value(struct agora_jw *w, const char *v)
{
    char *end;
    double d;

    if (v == NULL)
        v = "";
    errno = 0;
    d = strtod(v, &end);
    if (*v && !isspace((unsigned char)*v) && *end == '\0' && errno == 0)
        agora_jw_num(w, d);
    else
        agora_jw_str(w, v);
}
