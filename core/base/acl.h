/*
 * acl.h - Mesos' ACLs (--acls, docs/authorization.md of Mesos) for the
 * actions agora has:
 *
 *   {"permissive": true,
 *    "run_tasks":           [{"principals": E, "users": E}],
 *    "register_frameworks": [{"principals": E, "roles": E}],
 *    "reload_plugins":      [{"principals": E, "plugins": E}],
 *    "get_flags":           [{"principals": E, "flags": E}],
 *    "view_tasks":          [{"principals": E, "users": E}],
 *    "access_sandboxes":    [{"principals": E, "users": E}],
 *    "teardown":            [{"principals": E, "framework_principals": E}]}
 *
 * where an entity E is {"values": [...]}, {"type": "ANY"} or
 * {"type": "NONE"}. As Mesos' local authorizer: the rules of an action
 * are tried in order; the first whose subject and object both match
 * decides (ANY and NONE match everything, values what they list; a
 * missing principal only ANY and NONE), and it allows unless one side is
 * NONE. With no rule matching, "permissive" decides (default true).
 */
#ifndef AGORA_ACL_H
#define AGORA_ACL_H

#include <stddef.h>

enum acl_action {
    ACL_RUN_TASKS,
    ACL_REGISTER_FRAMEWORKS,
    ACL_RELOAD_PLUGINS,
    ACL_GET_FLAGS,
    ACL_VIEW_TASKS,
    ACL_ACCESS_SANDBOXES,
    ACL_TEARDOWN,
    ACL_ACTIONS
};

struct acl_entity {
    int type;           /* ACL_ANY, ACL_NONE or ACL_SOME              */
    char **values;
    size_t n;
};

struct acl_rule {
    struct acl_entity subject, object;
};

struct acls {
    int configured;     /* --acls was given                           */
    int permissive;
    struct acl_rule *rules[ACL_ACTIONS];
    size_t n[ACL_ACTIONS];
};

/* JSON text (starting with '{') or the path of a file holding it. 0, or
 * an agora_err with the reason in err. */
int acls_load(struct acls *a, const char *json_or_path, char *err,
              size_t errlen);
void acls_free(struct acls *a);

/* 1 when principal (NULL: unauthenticated) may do act on object (NULL:
 * none named, which only ANY and NONE match). Without ACLs, 1. */
int acls_allow(const struct acls *a, enum acl_action act,
               const char *principal, const char *object);

/* 1 only when a rule allows it: neither "permissive" nor the absence of
 * ACLs does (what running tasks as root needs). */
int acls_allow_explicit(const struct acls *a, enum acl_action act,
                        const char *principal, const char *object);

#endif /* AGORA_ACL_H */
