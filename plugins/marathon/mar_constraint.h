/*
 * mar_constraint.h - placement constraints (marathon-api.md §3.6) and
 * the label selector of GET /v2/apps?label=.
 *
 * A constraint is [field, OPERATOR(, value)]; field is "hostname" (or
 * "@hostname") or an agent attribute. Parsing validates with Marathon's
 * messages; matching decides whether one more task of an app may go to
 * an agent, given where the app's tasks already are (tasks of other apps
 * never count); selection picks scale-down victims that keep GROUP_BY
 * and MAX_PER balanced.
 */
#ifndef MAR_CONSTRAINT_H
#define MAR_CONSTRAINT_H

#include <regex.h>
#include <stddef.h>

#include <agora/json.h>
#include <agora/plugin.h>

#include "mar_app.h"

enum mar_constraint_op {
    MAR_C_UNIQUE = 0,
    MAR_C_CLUSTER,
    MAR_C_GROUP_BY,
    MAR_C_LIKE,
    MAR_C_UNLIKE,
    MAR_C_MAX_PER,
    MAR_C_IS
};

struct mar_constraint {
    char *field;               /* as given ("hostname", "rack_id", ...)  */
    enum mar_constraint_op op;
    char *value;               /* NULL when absent                       */
    long n;                    /* MAX_PER / GROUP_BY's integer; 0 none   */
    int has_re;                /* LIKE/UNLIKE: re is compiled            */
    regex_t re;                /* anchored: the whole value must match   */
};

/*
 * Parses v (the "constraints" array: arrays of 2 or 3 strings; the
 * operator in any case) into *out and *n. Every failure is recorded in e
 * under "<path_prefix>/constraints(i)" with Marathon's messages (§3.6:
 * "Each constraint must have either 2 or 3 fields", "operator must be
 * one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE
 * or IS", "MAX_PER requires an integer value", ...). A NULL or JSON null
 * v gives none. Returns 0, or -1 with nothing allocated.
 */
int mar_constraints_parse(yajl_val v, const char *path_prefix,
                          struct mar_constraint **out, size_t *n,
                          struct mar_errs *e);

/* Writes the array as Marathon returns it: [["hostname","UNIQUE"],…],
 * the operator upper-case. */
void mar_constraints_write(struct agora_jw *w, const struct mar_constraint *c,
                           size_t n);

/* A deep copy (regexes compiled again); 0 or -1 (out of memory). */
int mar_constraints_dup(const struct mar_constraint *c, size_t n,
                        struct mar_constraint **out);

void mar_constraints_free(struct mar_constraint *c, size_t n);

/* 1 when the two lists are the same constraints in the same order. */
int mar_constraints_equal(const struct mar_constraint *a, size_t na,
                          const struct mar_constraint *b, size_t nb);

/* Where a task is or would be: its agent's hostname and attributes
 * (borrowed). Attribute values are compared as the text the master
 * gives them. */
struct mar_place {
    const char *hostname;
    const struct agora_kv *attributes;
    size_t nattributes;
};

/*
 * 1 when one more task of the app may run at `candidate`, given the
 * places of the app's tasks that count (`placed`, nplaced of them); 0
 * when a constraint forbids it, with *why (when not NULL) set to the
 * first constraint that failed, for the queue's reject reasons. A
 * missing attribute fails every operator but UNLIKE. GROUP_BY accepts a
 * place whose value has the fewest tasks (ties all accepted); with a
 * value N, while fewer than N distinct values hold tasks, any value not
 * yet used is accepted too.
 */
int mar_constraints_match(const struct mar_constraint *c, size_t n,
                          const struct mar_place *candidate,
                          const struct mar_place *placed, size_t nplaced,
                          const struct mar_constraint **why);

/*
 * Scale-down: choose k of the nplaced tasks to kill so that GROUP_BY and
 * MAX_PER stay balanced: repeatedly take a task from the value (of a
 * GROUP_BY or MAX_PER field) that holds the most tasks, earlier tasks in
 * `placed` first (the caller orders them by its own preference: unhealthy,
 * staging, then killSelection). Without such constraints the first k.
 * Writes the chosen indices into out (room for k), returns how many
 * (min(k, nplaced)), or -1 when out of memory.
 */
long mar_constraints_select_kill(const struct mar_constraint *c, size_t n,
                                 const struct mar_place *placed,
                                 size_t nplaced, size_t k, size_t *out);

/* ---- label selectors (GET /v2/apps?label=…) ---- */

struct mar_label_sel; /* opaque */

/*
 * Parses a selector: comma-separated terms, all of which must hold:
 * `key` (exists), `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`;
 * names and values of [-A-Za-z0-9_.], other characters escaped with
 * '\'. Returns the selector, or NULL with *why (static) on a syntax
 * error ("Invalid label selector: …") or out of memory.
 */
struct mar_label_sel *mar_label_sel_parse(const char *text, const char **why);
/* 1 when the labels satisfy every term. */
int mar_label_sel_match(const struct mar_label_sel *s,
                        const struct mar_kv *labels, size_t n);
void mar_label_sel_free(struct mar_label_sel *s);

#endif /* MAR_CONSTRAINT_H */
