/*
 * chr_task.c - Chronos' task ids (ct:<due>:<attempt>:<name>:<args>) and
 * what a job's counters say: its status, its outcomes recorded, whether
 * a failed attempt is retried (chronos-api.md §1.2 #5, §2.1, §2.4).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chr_job_int.h"

/* ---- task ids ---- */

char *chr_job_args(const struct chr_job *j)
{
    size_t i, len = 1;
    char *s, *p;

    for (i = 0; i < j->narguments; i++)
        len += strlen(j->arguments[i]) + 1;
    s = malloc(len);
    if (!s)
        return NULL;
    p = s;
    for (i = 0; i < j->narguments; i++) {
        if (i > 0)
            *p++ = ' ';
        len = strlen(j->arguments[i]);
        memcpy(p, j->arguments[i], len);
        p += len;
    }
    *p = '\0';
    return s;
}

/* ';' is dropped from args, as Chronos does: the args end up in a shell
 * command line (§1.2 #5). */
char *chr_task_id_make(int64_t due, int attempt, const char *name,
                       const char *args)
{
    char *head, *s, *p;
    size_t hlen;

    if (due < 0 || attempt < 0 || !chr_job_name_valid(name))
        return NULL;
    if (!args)
        args = "";
    head = chr_printf("ct:%lld:%d:%s:", (long long)due, attempt, name);
    if (!head)
        return NULL;
    hlen = strlen(head);
    s = malloc(hlen + strlen(args) + 1);
    if (s) {
        memcpy(s, head, hlen);
        p = s + hlen;
        for (; *args; args++) {
            if (*args != ';')
                *p++ = *args;
        }
        *p = '\0';
    }
    free(head);
    return s;
}

/* \d+ at *p, at most max: 0 and *p past it, or -1. */
static int digits(const char **p, int64_t max, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

#define NAME_CHARS                                                             \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

/*
 * Matching ct:(\d+):(\d+):([\w.-]+):?(.*)? over the whole string needs no
 * backtracking: the name runs to the first character outside [\w.-], an
 * optional ':' follows, and the rest is the args, in which Java's '.'
 * matches anything but a line break.
 */
int chr_task_id_parse(const char *s, struct chr_task_id *out)
{
    const char *p = s;
    int64_t due, attempt;
    size_t nlen;

    memset(out, 0, sizeof(*out));
    if (!s || strncmp(p, "ct:", 3) != 0)
        return AGORA_EINVAL;
    p += 3;
    if (digits(&p, INT64_MAX, &due) != 0 || *p != ':')
        return AGORA_EINVAL;
    p++;
    if (digits(&p, INT_MAX, &attempt) != 0 || *p != ':')
        return AGORA_EINVAL;
    p++;
    nlen = strspn(p, NAME_CHARS);
    if (nlen == 0 || strpbrk(p + nlen, "\r\n"))
        return AGORA_EINVAL;
    out->name = malloc(nlen + 1);
    out->args = chr_strdup(p + nlen + (p[nlen] == ':'));
    if (!out->name || !out->args) {
        chr_task_id_clear(out);
        return AGORA_ENOMEM;
    }
    memcpy(out->name, p, nlen);
    out->name[nlen] = '\0';
    out->due = due;
    out->attempt = (int)attempt;
    return 0;
}

void chr_task_id_clear(struct chr_task_id *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->args);
    t->name = t->args = NULL;
}

/* ---- outcomes ---- */

/* Chronos compares the ISO strings, where "" sorts first: a job that
 * never failed and succeeded once is a success. */
enum chr_job_status chr_job_status(const struct chr_job *j)
{
    if (j->last_success == 0 && j->last_error == 0)
        return CHR_STATUS_FRESH;
    return j->last_success > j->last_error ? CHR_STATUS_SUCCESS
                                           : CHR_STATUS_FAILURE;
}

const char *chr_job_status_name(enum chr_job_status s)
{
    switch (s) {
    case CHR_STATUS_SUCCESS:
        return "success";
    case CHR_STATUS_FAILURE:
        return "failure";
    case CHR_STATUS_FRESH:
        break;
    }
    return "fresh";
}

void chr_job_record_success(struct chr_job *j, int64_t now)
{
    if (j->success_count < INT64_MAX)
        j->success_count++;
    j->errors_since_last_success = 0;
    j->last_success = now;
}

void chr_job_record_failure(struct chr_job *j, int64_t now)
{
    if (j->error_count < INT64_MAX)
        j->error_count++;
    if (j->errors_since_last_success < INT64_MAX)
        j->errors_since_last_success++;
    j->last_error = now;
}

int chr_job_may_retry(const struct chr_job *j, int attempt)
{
    return attempt < j->retries &&
           (j->last_error == 0 || j->last_success >= j->last_error);
}
