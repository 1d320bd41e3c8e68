/*
 * acl.c - Mesos' ACLs for agora's actions (see acl.h).
 */
#include "acl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "fs.h"

enum { ACL_ANY, ACL_NONE, ACL_SOME };

/* An --acls file larger than this is refused. */
#define ACL_FILE_MAX (1u << 20)

static const struct {
    const char *key, *object;
} actions[ACL_ACTIONS] = {
    [ACL_RUN_TASKS] = {"run_tasks", "users"},
    [ACL_REGISTER_FRAMEWORKS] = {"register_frameworks", "roles"},
    [ACL_RELOAD_PLUGINS] = {"reload_plugins", "plugins"},
    [ACL_GET_FLAGS] = {"get_flags", "flags"},
    [ACL_VIEW_TASKS] = {"view_tasks", "users"},
    [ACL_ACCESS_SANDBOXES] = {"access_sandboxes", "users"},
    [ACL_TEARDOWN] = {"teardown", "framework_principals"},
};

static void entity_free(struct acl_entity *e)
{
    size_t i;

    for (i = 0; i < e->n; i++)
        free(e->values[i]);
    free(e->values);
}

/* An entity: {"values": [...]}, {"type": "ANY"|"NONE"}; absent = ANY. */
static int entity_read(yajl_val v, struct acl_entity *e, const char *what,
                       char *err, size_t errlen)
{
    yajl_val vals = v ? agora_json_get(v, "values") : NULL;
    const char *type = v ? agora_json_get_str(v, "type") : NULL;
    size_t i;

    memset(e, 0, sizeof(*e));
    if (v == NULL || (type && strcmp(type, "ANY") == 0))
        return 0;
    if (type && strcmp(type, "NONE") == 0) {
        e->type = ACL_NONE;
        return 0;
    }
    if (!YAJL_IS_ARRAY(vals) || type) {
        snprintf(err, errlen, "%s: expecting {\"values\": [...]} or "
                              "{\"type\": \"ANY\"|\"NONE\"}", what);
        return AGORA_EINVAL;
    }
    e->type = ACL_SOME;
    if ((e->values = calloc(vals->u.array.len + 1, sizeof(char *))) == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < vals->u.array.len; i++) {
        yajl_val s = vals->u.array.values[i];
        const char *str = YAJL_IS_STRING(s) ? YAJL_GET_STRING(s) : NULL;

        if (str == NULL) {
            snprintf(err, errlen, "%s: values must be strings", what);
            return AGORA_EINVAL;
        }
        if ((e->values[i] = strdup(str)) == NULL)
            return AGORA_ENOMEM;
        e->n++;
    }
    return 0;
}

static int action_read(struct acls *a, int act, yajl_val list, char *err,
                       size_t errlen)
{
    char what[96];
    size_t i;
    int rc;

    if (!YAJL_IS_ARRAY(list)) {
        snprintf(err, errlen, "%s must be an array", actions[act].key);
        return AGORA_EINVAL;
    }
    a->rules[act] = calloc(list->u.array.len + 1, sizeof(struct acl_rule));
    if (a->rules[act] == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < list->u.array.len; i++) {
        yajl_val r = list->u.array.values[i];
        struct acl_rule *rule = &a->rules[act][i];

        snprintf(what, sizeof(what), "%s[%zu]", actions[act].key, i);
        if (!YAJL_IS_OBJECT(r)) {
            snprintf(err, errlen, "%s must be an object", what);
            return AGORA_EINVAL;
        }
        a->n[act]++;
        if ((rc = entity_read(agora_json_get(r, "principals"), &rule->subject,
                              what, err, errlen)) < 0 ||
            (rc = entity_read(agora_json_get(r, actions[act].object),
                              &rule->object, what, err, errlen)) < 0)
            return rc;
    }
    return 0;
}

static int acls_parse(struct acls *a, const char *text, char *err,
                      size_t errlen)
{
    char why[200];
    yajl_val doc = agora_json_parse(text, why, sizeof(why));
    size_t i;
    int act, rc = 0, b;

    if (doc == NULL || !YAJL_IS_OBJECT(doc)) {
        snprintf(err, errlen, "not a JSON object%s%s", doc ? "" : ": ",
                 doc ? "" : why);
        if (doc)
            yajl_tree_free(doc);
        return AGORA_EINVAL;
    }
    a->configured = 1;
    a->permissive = 1;
    for (i = 0; rc == 0 && i < doc->u.object.len; i++) {
        const char *k = doc->u.object.keys[i];
        yajl_val v = doc->u.object.values[i];

        if (strcmp(k, "permissive") == 0) {
            if (agora_json_bool(doc, "permissive", &b) != 0) {
                snprintf(err, errlen, "permissive must be true or false");
                rc = AGORA_EINVAL;
            }
            a->permissive = b;
            continue;
        }
        for (act = 0; act < ACL_ACTIONS && strcmp(k, actions[act].key); act++)
            ;
        if (act == ACL_ACTIONS) {
            snprintf(err, errlen, "unknown action %s (agora knows "
                     "run_tasks, register_frameworks, reload_plugins, "
                     "get_flags, view_tasks, access_sandboxes, teardown)", k);
            rc = AGORA_EINVAL;
        } else if (a->rules[act]) {
            snprintf(err, errlen, "%s given twice", k);
            rc = AGORA_EINVAL;
        } else {
            rc = action_read(a, act, v, err, errlen);
        }
    }
    yajl_tree_free(doc);
    return rc;
}

int acls_load(struct acls *a, const char *json_or_path, char *err,
              size_t errlen)
{
    const char *p = json_or_path;
    char *text = NULL;
    size_t len;
    int rc;

    memset(a, 0, sizeof(*a));
    a->permissive = 1;
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    if (*p != '{') {
        if (fs_read_file(json_or_path, ACL_FILE_MAX, &text, &len) < 0) {
            snprintf(err, errlen, "cannot read %s: %s", json_or_path,
                     strerror(errno));
            return AGORA_EIO;
        }
        p = text;
    }
    rc = acls_parse(a, p, err, errlen);
    free(text);
    if (rc < 0)
        acls_free(a);
    return rc;
}

void acls_free(struct acls *a)
{
    size_t i;
    int act;

    for (act = 0; act < ACL_ACTIONS; act++) {
        for (i = 0; i < a->n[act]; i++) {
            entity_free(&a->rules[act][i].subject);
            entity_free(&a->rules[act][i].object);
        }
        free(a->rules[act]);
    }
    memset(a, 0, sizeof(*a));
    a->permissive = 1;
}

static int entity_matches(const struct acl_entity *e, const char *value)
{
    size_t i;

    if (e->type != ACL_SOME)
        return 1;
    for (i = 0; value && i < e->n; i++)
        if (strcmp(e->values[i], value) == 0)
            return 1;
    return 0;
}

/* The decision of the first rule of act that matches: 1 allow, 0 refuse,
 * -1 none matches. */
static int acls_rule(const struct acls *a, enum acl_action act,
                     const char *principal, const char *object)
{
    size_t i;

    for (i = 0; i < a->n[act]; i++) {
        const struct acl_rule *r = &a->rules[act][i];

        if (entity_matches(&r->subject, principal) &&
            entity_matches(&r->object, object))
            return r->subject.type != ACL_NONE && r->object.type != ACL_NONE;
    }
    return -1;
}

int acls_allow(const struct acls *a, enum acl_action act,
               const char *principal, const char *object)
{
    int rc;

    if (!a->configured)
        return 1;
    rc = acls_rule(a, act, principal, object);
    return rc < 0 ? a->permissive : rc;
}

int acls_allow_explicit(const struct acls *a, enum acl_action act,
                        const char *principal, const char *object)
{
    return a->configured && acls_rule(a, act, principal, object) == 1;
}
