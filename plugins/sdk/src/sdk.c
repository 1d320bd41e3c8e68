/*
 * sdk.c - reply helpers, task state names and error messages of
 * agora/sdk.h.
 */
#include "agora/sdk.h"

#include <stdlib.h>
#include <string.h>

/* Sent when even the error body cannot be built. */
static const char oom_body[] = "{\"message\":\"out of memory\"}";

int agora_reply_jw(const struct agora_api *api, struct agora_req *r, int status,
                   struct agora_jw *w)
{
    const char *body;
    size_t len;

    if (!api || !api->reply)
        return AGORA_EINVAL;
    /* A NULL writer is one whose agora_jw_new() failed. */
    body = w ? agora_jw_result(w, &len) : NULL;
    if (!body)
        return agora_reply_error(api, r, 500, "out of memory");
    return api->reply(r, status, NULL, body, len);
}

/* {"message":<quoted msg>} is built by hand, not with a writer, so that
 * the only allocation is the body itself. A NULL msg is sent as "". */
int agora_reply_error(const struct agora_api *api, struct agora_req *r,
                      int status, const char *msg)
{
    static const char head[] = "{\"message\":";
    size_t qlen, len;
    char *body;
    int rc;

    if (!api || !api->reply)
        return AGORA_EINVAL;
    if (!msg)
        msg = "";
    qlen = agora_json_quote(msg, NULL, 0);
    len = sizeof(head) - 1 + qlen + 1;
    body = malloc(len + 1);
    /* The message asked for cannot be sent; say why, as a server error. */
    if (!body)
        return api->reply(r, 500, NULL, oom_body, sizeof(oom_body) - 1);
    memcpy(body, head, sizeof(head) - 1);
    agora_json_quote(msg, body + sizeof(head) - 1, qlen + 1);
    body[len - 1] = '}';
    body[len] = '\0';
    rc = api->reply(r, status, NULL, body, len);
    free(body);
    return rc;
}

int agora_id_valid(const char *id, size_t max)
{
    size_t n;

    if (id == NULL || id[0] == '.')
        return 0;
    for (n = 0; id[n]; n++) {
        char c = id[n];

        if (n == max ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
              c == ':' || c == '@'))
            return 0;
    }
    return n > 0;
}

/* In the order of enum agora_task_state. */
static const char *const state_names[] = {
    "TASK_STAGING",          "TASK_STARTING",    "TASK_RUNNING",
    "TASK_KILLING",          "TASK_FINISHED",    "TASK_FAILED",
    "TASK_KILLED",           "TASK_ERROR",       "TASK_LOST",
    "TASK_DROPPED",          "TASK_UNREACHABLE", "TASK_GONE",
    "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN",
};

_Static_assert(sizeof(state_names) / sizeof(state_names[0]) ==
                   AGORA_TASK_STATE_COUNT,
               "state_names must name every enum agora_task_state");

const char *agora_task_state_name(enum agora_task_state s)
{
    /* Through int: an enum with no negative member may be unsigned. */
    int i = (int)s;

    if (i < 0 || i >= AGORA_TASK_STATE_COUNT)
        return "TASK_UNKNOWN";
    return state_names[i];
}

int agora_task_state_parse(const char *name)
{
    int i;

    if (!name)
        return -1;
    for (i = 0; i < AGORA_TASK_STATE_COUNT; i++) {
        if (strcmp(state_names[i], name) == 0)
            return i;
    }
    return -1;
}

/* As in Mesos: UNREACHABLE and UNKNOWN may still turn into RUNNING. */
int agora_task_state_terminal(enum agora_task_state s)
{
    switch (s) {
    case AGORA_TASK_FINISHED:
    case AGORA_TASK_FAILED:
    case AGORA_TASK_KILLED:
    case AGORA_TASK_ERROR:
    case AGORA_TASK_LOST:
    case AGORA_TASK_DROPPED:
    case AGORA_TASK_GONE:
    case AGORA_TASK_GONE_BY_OPERATOR:
        return 1;
    default:
        return 0;
    }
}

const char *agora_strerror(int err)
{
    switch (err) {
    case AGORA_OK:
        return "success";
    case AGORA_ENOMEM:
        return "out of memory";
    case AGORA_EINVAL:
        return "invalid argument";
    case AGORA_ENOENT:
        return "not found";
    case AGORA_EEXIST:
        return "already exists";
    case AGORA_EVERSION:
        return "version mismatch";
    case AGORA_ETOOBIG:
        return "too big";
    case AGORA_EIO:
        return "input/output error";
    case AGORA_ECANCELED:
        return "canceled";
    case AGORA_ENOTLEADER:
        return "not the leader";
    case AGORA_ESTATE:
        return "not valid in this state";
    case AGORA_ENOTSUP:
        return "not supported";
    case AGORA_EUNAVAIL:
        return "temporarily unavailable";
    case AGORA_EURL:
        return "not a URL this client takes";
    case AGORA_ERESOLVE:
        return "the host name does not resolve";
    case AGORA_ECONNECT:
        return "cannot connect";
    case AGORA_ETIMEDOUT:
        return "timed out";
    case AGORA_ECLOSED:
        return "closed before the end of the reply";
    case AGORA_EPROTO:
        return "protocol error";
    case AGORA_EPERM:
        return "not allowed";
    default:
        return "unknown error";
    }
}
