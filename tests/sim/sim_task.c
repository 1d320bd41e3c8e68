/*
 * sim_task.c - the task table, and the updates of tasks until the master
 * acknowledges them.
 *
 * A `launch` makes a task (one allocation: the struct, its id and its
 * resources text) in one hash table and its agent's list, and queues
 * TASK_RUNNING (seq 1); finish_after seconds later, when that is not 0,
 * TASK_FINISHED (seq 2) follows; a `kill` of a live task queues
 * TASK_KILLED. An update goes to its agent's send queue (sim_post.c),
 * into a POST, then waits for its ack on the stream, sent again when the
 * ack is late. A task is freed once it ended and all its updates were
 * acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sim.h"

static const char *const state_names[] = {"TASK_RUNNING", "TASK_FINISHED",
                                          "TASK_KILLED"};

static struct {
    struct sim_task **b;
    size_t mask, n;
} tasks;

/* The finish FIFO: due times only grow, as finish_after is constant. */
static struct sim_task *fifo_head, *fifo_tail;
/* Updates waiting for their ack, oldest first. */
static struct sim_update *wait_head, *wait_tail;
static size_t nwaiting;
static uint64_t uuid_next = 1;
static char uuid_salt[25]; /* the first 24 characters of every uuid */
static const char **fw_names;
static size_t nfw_names;

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static struct sim_task *task_find(const char *id, size_t n)
{
    uint32_t h = hash_str(id, n);
    struct sim_task *t;

    if (tasks.b == NULL)
        return NULL;
    for (t = tasks.b[h & tasks.mask]; t; t = t->hnext)
        if (t->hash == h && strncmp(t->name, id, n) == 0 && t->name[n] == 0)
            return t;
    return NULL;
}

static void tasks_grow(void)
{
    size_t nb = tasks.b ? (tasks.mask + 1) * 2 : 1024, i;
    struct sim_task **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        sim_die("out of memory");
    for (i = 0; tasks.b && i <= tasks.mask; i++) {
        struct sim_task *t = tasks.b[i], *next;

        for (; t; t = next) {
            next = t->hnext;
            t->hnext = b[t->hash & (nb - 1)];
            b[t->hash & (nb - 1)] = t;
        }
    }
    free(tasks.b);
    tasks.b = b;
    tasks.mask = nb - 1;
}

static void task_unhash(struct sim_task *t)
{
    struct sim_task **pp = &tasks.b[t->hash & tasks.mask];

    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    tasks.n--;
}

/* The framework id s[0..n), one copy per framework: tasks point at it. */
static const char *fw_intern(const char *s, size_t n)
{
    static size_t last;
    size_t i;
    char *c;

    if (last < nfw_names && strncmp(fw_names[last], s, n) == 0 &&
        fw_names[last][n] == 0)
        return fw_names[last];
    for (i = 0; i < nfw_names; i++)
        if (strncmp(fw_names[i], s, n) == 0 && fw_names[i][n] == 0)
            return fw_names[last = i];
    fw_names = realloc(fw_names, (nfw_names + 1) * sizeof(*fw_names));
    c = strndup(s, n);
    if (fw_names == NULL || c == NULL)
        sim_die("out of memory");
    fw_names[nfw_names] = c;
    last = nfw_names;
    return fw_names[nfw_names++];
}

size_t sim_task_count(void)
{
    return tasks.n;
}

const char *sim_task_state_name(int state)
{
    return state_names[state];
}

/* ------------------------------------------------------------------ */
/* Uuids, and the updates waiting for their ack                         */
/* ------------------------------------------------------------------ */

void sim_task_make_salt(void)
{
    unsigned char r[10];
    size_t i;

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        for (i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)rand();
    snprintf(uuid_salt, sizeof(uuid_salt),
             "%02x%02x%02x%02x-%02x%02x-4%02x%x-8%02x%x-", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7] & 0xf, r[8], r[9] & 0xf);
}

/* The uuid of an update: a per-run salt and the counter. */
void sim_task_uuid_text(uint64_t u, char out[37])
{
    memcpy(out, uuid_salt, 24);
    snprintf(out + 24, 13, "%012llx",
             (unsigned long long)(u & 0xffffffffffffULL));
}

/* The counter of one of our uuids, or 0. */
static uint64_t uuid_parse(const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i;

    if (n != 36 || memcmp(s, uuid_salt, 24) != 0)
        return 0;
    for (i = 24; i < 36; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return 0;
        v = v * 16 + (uint64_t)d;
    }
    return v;
}

static void wait_add(struct sim_update *u)
{
    u->wnext = NULL;
    u->wprev = wait_tail;
    if (wait_tail)
        wait_tail->wnext = u;
    else
        wait_head = u;
    wait_tail = u;
    nwaiting++;
}

static void wait_remove(struct sim_update *u)
{
    if (u->wprev)
        u->wprev->wnext = u->wnext;
    else
        wait_head = u->wnext;
    if (u->wnext)
        u->wnext->wprev = u->wprev;
    else
        wait_tail = u->wprev;
    u->wprev = u->wnext = NULL;
    nwaiting--;
}

size_t sim_task_waiting(void)
{
    return nwaiting;
}

/* ------------------------------------------------------------------ */
/* A task's life                                                        */
/* ------------------------------------------------------------------ */

/* A new update of t in state s, queued for its agent. */
static void task_update(struct sim_task *t, enum sim_task_state s)
{
    struct sim_update *u = &t->upd[t->nupd];

    u->task = t;
    u->uuid = uuid_next++;
    u->timestamp = sim_now();
    u->backoff = sim_opt.resend_after;
    u->state = (uint8_t)s;
    u->seq = (uint8_t)(t->nupd + 1);
    t->nupd++;
    t->state = (uint8_t)s;
    if (s == SIM_TASK_RUNNING) {
        sim_st.sent_running++;
        sim_st.last_running_sent = u->timestamp;
    } else if (s == SIM_TASK_FINISHED) {
        sim_st.sent_finished++;
    } else {
        sim_st.sent_killed++;
    }
    sim_post_enqueue(t->ag, u);
}

static void task_free(struct sim_task *t)
{
    struct sim_agent *ag = t->ag;

    if (t->aprev)
        t->aprev->anext = t->anext;
    else
        ag->tasks = t->anext;
    if (t->anext)
        t->anext->aprev = t->aprev;
    ag->ntasks--;
    task_unhash(t);
    free(t);
}

/* The finish FIFO no longer pointing at t is one of the conditions. */
void sim_task_maybe_free(struct sim_task *t)
{
    int i;

    if (t->state == SIM_TASK_RUNNING || t->in_fifo)
        return;
    for (i = 0; i < t->nupd; i++)
        if (t->upd[i].phase != SIM_UPDATE_ACKED || t->upd[i].held)
            return;
    task_free(t);
}

/* An id that is empty, "." or "..", or holds a '/', or no framework id,
 * is counted as a bad launch; a known id as a duplicate. */
void sim_task_launch(struct sim_agent *ag, const char *id, size_t idn,
                     const char *fw, size_t fwn, const char *res, size_t resn)
{
    struct sim_task *t;
    size_t i;

    if (idn == 0 || (idn == 1 && id[0] == '.') ||
        (idn == 2 && id[0] == '.' && id[1] == '.') || memchr(id, '/', idn) ||
        fwn == 0) {
        sim_st.launch_bad++;
        return;
    }
    if (task_find(id, idn)) {
        sim_st.launch_dups++;
        return;
    }
    t = calloc(1, sizeof(*t) + idn + resn + 2);
    if (t == NULL)
        sim_die("out of memory");
    memcpy(t->name, id, idn);
    memcpy(t->name + idn + 1, res, resn);
    t->res = t->name + idn + 1;
    t->fw = fw_intern(fw, fwn);
    t->ag = ag;
    t->hash = hash_str(id, idn);
    if (tasks.n >= tasks.mask)
        tasks_grow();
    i = t->hash & tasks.mask;
    t->hnext = tasks.b[i];
    tasks.b[i] = t;
    tasks.n++;
    t->anext = ag->tasks;
    if (ag->tasks)
        ag->tasks->aprev = t;
    ag->tasks = t;
    ag->ntasks++;
    sim_st.launches++;
    if (sim_st.first_launch == 0)
        sim_st.first_launch = sim_now();
    sim_st.last_launch = sim_now();
    task_update(t, SIM_TASK_RUNNING);
    if (sim_opt.finish_after > 0) {
        t->finish_at = sim_now() + sim_opt.finish_after;
        t->in_fifo = 1;
        t->fnext = NULL;
        if (fifo_tail)
            fifo_tail->fnext = t;
        else
            fifo_head = t;
        fifo_tail = t;
    }
}

/* A task unknown, or one that ended already, is counted as such. */
void sim_task_kill(const char *id, size_t idn)
{
    struct sim_task *t = id ? task_find(id, idn) : NULL;

    sim_st.kills++;
    if (t == NULL || t->state != SIM_TASK_RUNNING) {
        sim_st.kills_unknown++;
        return;
    }
    task_update(t, SIM_TASK_KILLED);
}

void sim_task_finish_due(double now)
{
    while (fifo_head && fifo_head->finish_at <= now) {
        struct sim_task *task = fifo_head;

        fifo_head = task->fnext;
        if (fifo_head == NULL)
            fifo_tail = NULL;
        task->in_fifo = 0;
        if (task->state == SIM_TASK_RUNNING)
            task_update(task, SIM_TASK_FINISHED);
        else
            sim_task_maybe_free(task);
    }
}

/* ------------------------------------------------------------------ */
/* An update's way to its ack                                           */
/* ------------------------------------------------------------------ */

/* An ack we cannot match (not our uuid, a task or update unknown, one
 * acknowledged already) is counted as unknown. */
void sim_task_ack(const char *id, size_t idn, const char *uuid, size_t uuidn)
{
    struct sim_task *t;
    uint64_t u;
    int i;

    if (id == NULL || uuid == NULL || (u = uuid_parse(uuid, uuidn)) == 0 ||
        (t = task_find(id, idn)) == NULL) {
        sim_st.acks_unknown++;
        return;
    }
    for (i = 0; i < t->nupd; i++) {
        struct sim_update *up = &t->upd[i];

        if (up->uuid != u || up->phase == SIM_UPDATE_ACKED)
            continue;
        /* A queued or in-flight copy is acknowledged all the same: the
         * POST that carries it only finds it acknowledged. */
        if (up->phase == SIM_UPDATE_WAITING)
            wait_remove(up);
        up->phase = SIM_UPDATE_ACKED;
        sim_st.acks++;
        sim_st.last_ack = sim_now();
        sim_task_maybe_free(t);
        return;
    }
    sim_st.acks_unknown++;
}

/* A new subscription: the master may not have what it did not ack. */
void sim_task_requeue(struct sim_agent *ag)
{
    struct sim_task *t;

    for (t = ag->tasks; t; t = t->anext) {
        int i;

        for (i = 0; i < t->nupd; i++)
            if (t->upd[i].phase == SIM_UPDATE_WAITING) {
                wait_remove(&t->upd[i]);
                sim_st.resends++;
                sim_post_enqueue(ag, &t->upd[i]);
            }
    }
}

/* The resend delay doubles at each POST, up to SIM_RESEND_MAX. */
void sim_task_posted(struct sim_update *u)
{
    u->held = 0;
    if (u->phase != SIM_UPDATE_INFLIGHT) {
        /* Acknowledged before its POST was answered, as is usual:
         * the master acks on the stream before it answers. */
        sim_task_maybe_free(u->task);
        return;
    }
    u->phase = SIM_UPDATE_WAITING;
    u->due = sim_now() + u->backoff;
    u->backoff =
        u->backoff * 2 > SIM_RESEND_MAX ? SIM_RESEND_MAX : u->backoff * 2;
    wait_add(u);
}

/* Only for agents with a stream: the others send everything again when
 * they subscribe (sim_task_requeue). */
void sim_task_resend_due(double now)
{
    struct sim_update *u, *next;

    for (u = wait_head; u; u = next) {
        next = u->wnext;
        if (u->due > now || u->task->ag->phase != SIM_AGENT_STREAM)
            continue;
        wait_remove(u);
        sim_st.resends++;
        sim_post_enqueue(u->task->ag, u);
    }
}
