/*
 * fuzz_json.c - libFuzzer target: the JSON readers that take client input.
 *
 * One input is one request body. It goes through what the handlers run
 * on a body, in their order:
 *   - agora_json_parse() (plugins/sdk/src/json.c): the depth bound and
 *     the lone-surrogate check before yajl builds a tree; every JSON body
 *     of the master, the agent and the plugins is read by it;
 *   - the SDK's typed accessors (agora_json_str/int/num/bool) on the
 *     top-level members and on every member of the top object;
 *   - mar_app_parse() as POST /v2/apps calls it, then mar_app_write()
 *     (what GET /v2/apps serves back) and mar_app_merge() as PATCH does;
 *   - chr_job_parse() in each of its modes (POST /scheduler/iso8601,
 *     /scheduler/dependency, the store), then chr_job_text() (the store's
 *     value) read back again;
 *   - agora_json_quote() on every string found (how values are echoed in
 *     error messages).
 * A crash, a leak or undefined behaviour is a finding; a refusal is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "chr_job.h"
#include "mar_app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The typed accessors on one member, as handlers call them. */
static void fuzz_accessors(yajl_val obj, const char *key)
{
    const char *s;
    int64_t i;
    double d;
    int b;
    char q[64];

    if (agora_json_str(obj, key, &s) == 0)
        agora_json_quote(s, q, sizeof(q));
    agora_json_int(obj, key, &i);
    agora_json_num(obj, key, &d);
    agora_json_bool(obj, key, &b);
}

static void fuzz_marathon(yajl_val v)
{
    struct mar_errs e = {0};
    struct mar_app *app = mar_app_parse(v, "/", NULL, "", &e), *merged;
    struct agora_jw *w;

    mar_errs_free(&e);
    if (app == NULL)
        return;
    if ((w = agora_jw_new()) != NULL) {
        mar_app_write(w, app);
        agora_jw_free(w);
    }
    memset(&e, 0, sizeof(e));
    merged = mar_app_merge(app, v, &e);
    mar_errs_free(&e);
    mar_app_free(merged);
    mar_app_free(app);
}

static void fuzz_chronos(yajl_val v)
{
    static const enum chr_job_mode modes[] = {CHR_JOB_ANY, CHR_JOB_ISO8601,
                                              CHR_JOB_DEPENDENCY};
    const struct chr_job_conf conf = CHR_JOB_CONF_DEFAULTS;
    /* A fixed now: the same input takes the same path every run. */
    const int64_t now = 1796601600000LL;
    size_t i;

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct chr_job *j = NULL, *again = NULL;
        char *msg = NULL, *text;

        chr_job_parse(v, modes[i], now, &conf, &j, &msg);
        free(msg);
        if (j == NULL)
            continue;
        /* The store's value must read back (a restart reads it). */
        text = chr_job_text(j);
        msg = NULL;
        if (text && chr_job_parse_text(text, CHR_JOB_ANY, now, &conf, &again,
                                       &msg) == AGORA_EINVAL)
            abort(); /* we wrote what we cannot read */
        free(msg);
        free(text);
        chr_job_free(again);
        chr_job_free(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[256];
    yajl_val v;
    size_t i;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    v = agora_json_parse(text, err, sizeof(err));
    free(text);
    if (v == NULL)
        return 0;
    if (YAJL_IS_OBJECT(v)) {
        for (i = 0; i < v->u.object.len; i++)
            fuzz_accessors(v, v->u.object.keys[i]);
        fuzz_marathon(v);
        fuzz_chronos(v);
    }
    yajl_tree_free(v);
    return 0;
}
