/*
 * sim_stream.c - a subscription's answer: its status and headers, the
 * chunked coding of its body, and the NDJSON event lines in it.
 *
 * A `launch` is answered with TASK_RUNNING (and later TASK_FINISHED), a
 * `kill` of a live task with TASK_KILLED (sim_task.c); a `ping` with a
 * pong on the next POST (sim_post.c); an `ack` settles updates; a
 * `subscribed` line completes the subscription (sim_agent.c); a
 * `shutdown` ends the agent.
 *
 * The hot path is cheap: events are found with a scanner for the
 * members the master writes (`"type":"…"` first, then the task id), with
 * yajl only as the fallback for a line the scanner does not recognise;
 * no copy of a line but of the part a read or chunk boundary cuts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/json.h>

#include "sim.h"

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

/* The string value after `key` (which includes `"name":"`) in s[0..n),
 * or NULL. The value ends at the next quote: the ids the master writes
 * never hold an escaped quote. */
static const char *scan_str(const char *s, size_t n, const char *key,
                            size_t keylen, size_t *len)
{
    const char *p = memmem(s, n, key, keylen), *e;

    if (p == NULL)
        return NULL;
    p += keylen;
    e = memchr(p, '"', (size_t)(s + n - p));
    if (e == NULL)
        return NULL;
    *len = (size_t)(e - p);
    return p;
}

#define SCAN(s, n, key, len) scan_str(s, n, key, sizeof(key) - 1, len)

/* One {"task_id":..,"uuid":..} of an ack. */
static void on_ack_one(const char *s, size_t n)
{
    const char *id, *uu;
    size_t idn = 0, uun = 0;

    id = SCAN(s, n, "\"task_id\":\"", &idn);
    uu = SCAN(s, n, "\"uuid\":\"", &uun);
    sim_task_ack(id, idn, uu, uun);
}

/* {"type":"ack","updates":[{"task_id":..,"uuid":..},...]}: flat objects. */
static void on_ack(const char *s, size_t n)
{
    const char *p = memmem(s, n, "\"updates\"", 9), *end = s + n;

    if (p == NULL)
        return;
    for (p += 9; p < end;) {
        const char *o = memchr(p, '{', (size_t)(end - p)), *c;

        if (o == NULL)
            break;
        c = memchr(o, '}', (size_t)(end - o));
        if (c == NULL)
            break;
        on_ack_one(o, (size_t)(c - o + 1));
        p = c + 1;
    }
}

static void on_ping(struct sim_agent *ag)
{
    sim_st.pings++;
    ag->pong = 1;
    sim_post_dirty(ag);
}

/* An ack parsed by yajl: each update goes through on_ack_one. */
static void on_ack_slow(yajl_val doc)
{
    yajl_val ups = agora_json_get(doc, "updates");
    const char *id = NULL;
    size_t i;

    for (i = 0; YAJL_IS_ARRAY(ups) && i < ups->u.array.len; i++) {
        const char *uu = NULL;
        char one[512];
        int k;

        agora_json_str(ups->u.array.values[i], "task_id", &id);
        agora_json_str(ups->u.array.values[i], "uuid", &uu);
        k = snprintf(one, sizeof(one), "{\"task_id\":\"%s\",\"uuid\":\"%s\"}",
                     id ? id : "", uu ? uu : "");
        if (k > 0 && (size_t)k < sizeof(one))
            on_ack_one(one, (size_t)k);
    }
}

/* A line the scanner did not recognise: parse it for real. */
static void on_line_slow(struct sim_agent *ag, const char *s, size_t n)
{
    char *text = strndup(s, n), err[128];
    yajl_val doc = text ? agora_json_parse(text, err, sizeof(err)) : NULL;
    const char *type = NULL, *id = NULL, *fw = NULL, *res = "";
    yajl_val task;

    sim_st.slow_lines++;
    if (doc == NULL) {
        sim_error("%s: unparsable event: %s", ag->id, err);
        free(text);
        return;
    }
    if (agora_json_str(doc, "type", &type) != 0)
        agora_json_str(doc, "event", &type);
    task = agora_json_get(doc, "task");
    if (type == NULL) {
        sim_error("%s: event without a type%s", ag->id, "");
    } else if (strcmp(type, "launch") == 0) {
        agora_json_str(doc, "framework_id", &fw);
        agora_json_str(task, "task_id", &id);
        agora_json_str(task, "resources", &res);
        if (id && fw)
            sim_task_launch(ag, id, strlen(id), fw, strlen(fw), res,
                            strlen(res));
        else
            sim_st.launch_bad++;
    } else if (strcmp(type, "kill") == 0) {
        agora_json_str(doc, "task_id", &id);
        sim_task_kill(id, id ? strlen(id) : 0);
    } else if (strcmp(type, "ack") == 0) {
        on_ack_slow(doc);
    } else if (strcmp(type, "ping") == 0) {
        on_ping(ag);
    } else if (strcmp(type, "subscribed") == 0) {
        sim_agent_subscribed(ag, s, n);
    } else if (strcmp(type, "shutdown") == 0) {
        sim_st.shutdowns++;
        sim_agent_stream_end(ag, NULL);
    }
    yajl_tree_free(doc);
    free(text);
}

/* One event line. The master writes compact JSON with "type" first. */
static void on_line(struct sim_agent *ag, const char *s, size_t n)
{
    const char *type, *id, *fw, *res;
    size_t tn = 0, idn = 0, fwn = 0, resn = 0;

    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    sim_st.lines++;
    ag->last_event = sim_now();
    if (n == 0) {
        sim_st.keepalives++;
        return;
    }
    type = SCAN(s, n, "\"type\":\"", &tn);
    if (type == NULL || type - s > 16) {
        on_line_slow(ag, s, n);
        return;
    }
    if (tn == 6 && memcmp(type, "launch", 6) == 0) {
        fw = SCAN(s, n, "\"framework_id\":\"", &fwn);
        id = SCAN(s, n, "\"task_id\":\"", &idn);
        res = SCAN(s, n, "\"resources\":\"", &resn);
        if (fw == NULL || id == NULL) {
            on_line_slow(ag, s, n);
            return;
        }
        sim_task_launch(ag, id, idn, fw, fwn, res ? res : "", res ? resn : 0);
    } else if (tn == 3 && memcmp(type, "ack", 3) == 0) {
        on_ack(s, n);
    } else if (tn == 4 && memcmp(type, "ping", 4) == 0) {
        on_ping(ag);
    } else if (tn == 4 && memcmp(type, "kill", 4) == 0) {
        id = SCAN(s, n, "\"task_id\":\"", &idn);
        sim_task_kill(id, idn);
    } else {
        on_line_slow(ag, s, n);
    }
}

/* ------------------------------------------------------------------ */
/* Lines and chunks                                                     */
/* ------------------------------------------------------------------ */

/* Stream data (de-chunked): split into lines, copying only the partial
 * line a read or chunk boundary cuts. Returns -1 when the agent must
 * drop the stream (a line too long). */
static int on_data(struct sim_agent *ag, const char *d, size_t m)
{
    while (m > 0 && ag->phase == SIM_AGENT_STREAM) {
        const char *nl = memchr(d, '\n', m);
        size_t len;

        if (nl == NULL) {
            if (ag->in.len + m > SIM_LINE_MAX)
                return -1;
            sim_buf_add(&ag->in, d, m);
            return 0;
        }
        len = (size_t)(nl - d);
        if (ag->in.len) {
            sim_buf_add(&ag->in, d, len);
            on_line(ag, ag->in.p, ag->in.len);
            ag->in.len = 0;
        } else {
            on_line(ag, d, len);
        }
        d += len + 1;
        m -= len + 1;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The chunked transfer coding, byte by byte between chunks and in bulk
 * inside them. An event may end the stream (a `shutdown`): decoding
 * stops there. */
int sim_stream_body(struct sim_agent *ag, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && ag->phase == SIM_AGENT_STREAM) {
        char c;
        int v;

        switch (ag->cphase) {
        case SIM_CHUNK_RAW:
            return on_data(ag, p + i, n - i);
        case SIM_CHUNK_SIZE:
            c = p[i++];
            if ((v = hexval(c)) >= 0) {
                if (ag->chunk_left > (SIZE_MAX >> 5))
                    return -1;
                ag->chunk_left = ag->chunk_left * 16 + (size_t)v;
            } else if (c == '\n') {
                if (ag->chunk_left == 0)
                    return -1; /* the last chunk: the stream ended */
                ag->cphase = SIM_CHUNK_DATA;
            } else if (c == ';') {
                ag->cphase = SIM_CHUNK_EXT;
            } else if (c != '\r' && c != ' ' && c != '\t') {
                return -1;
            }
            break;
        case SIM_CHUNK_EXT:
            if (p[i++] == '\n') {
                if (ag->chunk_left == 0)
                    return -1;
                ag->cphase = SIM_CHUNK_DATA;
            }
            break;
        case SIM_CHUNK_DATA: {
            size_t k = n - i < ag->chunk_left ? n - i : ag->chunk_left;

            if (on_data(ag, p + i, k) < 0)
                return -1;
            i += k;
            ag->chunk_left -= k;
            if (ag->chunk_left == 0)
                ag->cphase = SIM_CHUNK_CRLF;
            break;
        }
        case SIM_CHUNK_CRLF:
            if (p[i++] == '\n') {
                ag->cphase = SIM_CHUNK_SIZE;
                ag->chunk_left = 0;
            }
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The answer's headers                                                 */
/* ------------------------------------------------------------------ */

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 ||
           status == 308;
}

/* A refusal's first bytes, on one line, go to last_error. */
static void refused(struct sim_agent *ag)
{
    char head[200];
    size_t k = ag->in.len < sizeof(head) - 1 ? ag->in.len : sizeof(head) - 1;
    size_t j;

    memcpy(head, ag->in.p, k);
    head[k] = 0;
    for (j = 0; j < k; j++)
        if (head[j] == '\r' || head[j] == '\n')
            head[j] = ' ';
    sim_error("%s: subscribe answered: %s", ag->id, head);
}

/* Counts the answer by status class, follows at most SIM_REDIRECTS_MAX
 * redirects an attempt, and sets up the body's decoding. */
long sim_stream_headers(struct sim_agent *ag)
{
    const char *end = memmem(ag->in.p, ag->in.len, "\r\n\r\n", 4), *p;
    int status = 0, to;
    size_t hl;

    if (end == NULL)
        return ag->in.len > 65536 ? -1 : 0;
    hl = (size_t)(end - ag->in.p) + 4;
    if (sscanf(ag->in.p, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    sim_st.refused[status >= 100 && status < 600 ? status / 100 : 0]++;
    if (status == 503)
        sim_st.unavailable++;
    if (is_redirect(status) && ag->hops < SIM_REDIRECTS_MAX &&
        (to = sim_master_redirect(ag->in.p, end, ag->master)) >= 0) {
        ag->hops++;
        ag->master = (uint8_t)to;
        sim_st.redirects++;
        return -2;
    }
    if (status != 200) {
        refused(ag);
        return -1;
    }
    ag->cphase = SIM_CHUNK_RAW;
    for (p = ag->in.p; p < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL)
            break;
        if (strncasecmp(p + 1, "transfer-encoding:", 18) == 0) {
            const char *v = p + 19;

            while (*v == ' ')
                v++;
            if (strncasecmp(v, "chunked", 7) == 0)
                ag->cphase = SIM_CHUNK_SIZE;
        }
    }
    ag->chunk_left = 0;
    return (long)hl;
}
