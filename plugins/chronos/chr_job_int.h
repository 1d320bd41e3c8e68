/*
 * chr_job_int.h - what the job model's files share and nobody else
 * needs: the table of scalar fields, the parse state that gathers
 * failures into one message, typed readers of a yajl tree, and the
 * helpers of the list fields. Not part of chronos.so's interface to the
 * rest of the plugin.
 */
#ifndef CHR_JOB_INT_H
#define CHR_JOB_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "chr_job.h"

/* ---- the fields, in Chronos' order (§1.3) ---- */

enum chr_ftype {
    CHR_F_STR,   /* char *, never NULL ("" by default)            */
    CHR_F_BOOL,  /* int, 0 or 1                                   */
    CHR_F_INT,   /* int, 0 to INT_MAX                             */
    CHR_F_COUNT, /* int64_t, 0 to INT64_MAX                       */
    CHR_F_NUM,   /* double, finite, >= 0 (resources)              */
    CHR_F_TIME,  /* int64_t ms UTC, 0 = never, written as ""      */
    CHR_F_PART   /* a list or object: its own parser and writer   */
};

struct chr_field {
    const char *key;
    enum chr_ftype type;
    size_t off;  /* offset in struct chr_job; unused for CHR_F_PART */
    /* CHR_F_PART: writes key and value. */
    void (*write)(struct agora_jw *w, const struct chr_job *j);
};

/* Every field chr_job_write() writes, in its order (chr_job_write.c);
 * the scalar ones also drive parsing, copying, comparing and freeing. */
extern const struct chr_field chr_job_fields[];
extern const size_t chr_job_nfields;

/* The field's member of j, typed by the caller from f->type. */
#define CHR_FIELD(j, f, type) ((type *)(void *)((char *)(j) + (f)->off))
#define CHR_CFIELD(j, f, type)                                               \
    ((const type *)(const void *)((const char *)(j) + (f)->off))

/* ---- strings ---- */

/* A malloc'ed copy of s, or NULL (s NULL, or out of memory). */
char *chr_strdup(const char *s);
/* printf into a malloc'ed string, or NULL when out of memory. */
char *chr_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Client values are echoed in messages cut to CHR_ECHO_MAX bytes (at a
 * UTF-8 boundary) with "..." after: a megabyte name makes a short 400.
 * Use as "'%.*s%s'", CHR_ECHO(s).
 */
#define CHR_ECHO_MAX 64
int chr_echo_len(const char *s);
const char *chr_echo_more(const char *s);
#define CHR_ECHO(s) chr_echo_len(s), (s), chr_echo_more(s)

/* ---- one parse ---- */

/* At most this many failures are spelled out; later ones add "; ...". */
#define CHR_MAX_FAILURES 8

struct chr_pc {
    const struct chr_job_conf *conf;
    enum chr_job_mode mode;
    int64_t now;
    char *msg;      /* the failures so far, "; "-joined; NULL = none */
    size_t nfail;
    int nomem;      /* an allocation failed: the parse is a 500      */
};

/* Records a failure (the message is formatted and copied). */
void chr_pc_fail(struct chr_pc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Out of memory: the parse fails with AGORA_ENOMEM. */
void chr_pc_nomem(struct chr_pc *c);
/* 1 when the parse has failed so far (a failure or out of memory). */
int chr_pc_failed(const struct chr_pc *c);

/* The member key of obj, or NULL when absent or JSON null. */
yajl_val chr_member(yajl_val obj, const char *key);

/*
 * Typed reads of v (a member, or NULL when absent): 1 and *out when v
 * has the type, 0 when v is NULL, -1 (a failure naming `what`, e.g.
 * "fetch[2].uri") otherwise. Booleans also take "true"/"false", numbers
 * also numeric strings, as Chronos' Jackson reads do; integers and
 * numbers must not be negative. Strings are borrowed from the tree.
 */
int chr_read_str(struct chr_pc *c, yajl_val v, const char *what,
                 const char **out);
int chr_read_bool(struct chr_pc *c, yajl_val v, const char *what, int *out);
int chr_read_i64(struct chr_pc *c, yajl_val v, const char *what, int64_t max,
                 int64_t *out);
int chr_read_num(struct chr_pc *c, yajl_val v, const char *what, double *out);

/* Replaces the owned string *dst by a copy of s; out of memory is
 * recorded and *dst kept. */
void chr_pc_set_str(struct chr_pc *c, char **dst, const char *s);

/* ---- the parts (chr_job_parts.c, chr_job_sched.c) ---- */

/* arguments, parents, fetch and uris, environmentVariables. */
void chr_parse_lists(struct chr_pc *c, yajl_val o, struct chr_job *j);
/* constraints, compiled. */
void chr_parse_constraints(struct chr_pc *c, yajl_val o, struct chr_job *j);
/* container, kept as text when it has an image. */
void chr_parse_container(struct chr_pc *c, yajl_val o, struct chr_job *j);
/* schedule / cron / parents' kind by mode, scheduleTimeZone, epsilon.
 * Runs after chr_parse_lists() (it reads j->parents). */
void chr_parse_schedule(struct chr_pc *c, yajl_val o, struct chr_job *j);

/* An ISO 8601 time ("2014-03-08T16:57:17.507Z", an offset, a date
 * alone, as a schedule's start) into ms UTC: 0, AGORA_EINVAL (not such a
 * time) or AGORA_ENOMEM. */
int chr_job_time_parse(const char *s, int64_t *out);

/*
 * Compiles c->re from c->value for LIKE and UNLIKE (nothing for EQUALS):
 * 0; AGORA_EINVAL with the reason in err (errlen bytes) when the value is
 * no POSIX extended regular expression or too costly to compile;
 * AGORA_ENOMEM.
 */
int chr_constraint_compile(struct chr_constraint *c, char *err, size_t errlen);

/* The operators' names, by enum chr_constraint_op. */
extern const char *const chr_constraint_ops[3];
/* The policies' names, by enum chr_concurrency. */
extern const char *const chr_concurrency_names[4];

/* Frees n elements and the vector; NULL is ignored. */
void chr_strv_free(char **v, size_t n);
void chr_fetch_free(struct chr_fetch *f, size_t n);
void chr_env_free(struct chr_env *e, size_t n);
void chr_constraints_free(struct chr_constraint *c, size_t n);

/*
 * The deepest a container may nest below itself. The text writer below
 * walks the tree with a stack of this size, not by recursion, and
 * refuses anything deeper.
 */
#define CHR_JSON_MAX_DEPTH 32

/* v as one line of JSON text: 0 and *out (malloc'ed, the caller frees);
 * AGORA_EINVAL nested deeper than CHR_JSON_MAX_DEPTH; AGORA_ENOMEM. */
int chr_json_text(yajl_val v, char **out);

#endif /* CHR_JOB_INT_H */
