/*
 * mar_label.c - the label selector of GET /v2/apps?label=…, with the
 * grammar of Marathon's LabelSelectorParsers:
 *
 *   selectors := [ selector { "," selector } ]      (empty: every app)
 *   selector  := term ("in" | "notin") "(" [ term { "," term } ] ")"
 *              | term ("==" | "!=") term
 *              | term
 *   term      := { [-A-Za-z0-9_.] | "\" any-char }+  (the '\' dropped)
 *
 * Whitespace may surround every token. Every form but existence needs
 * the label to be present: `tier!=web` and `tier notin (web)` do not
 * select an app without a `tier` label, as in Marathon.
 *
 * The parser is a loop over a cursor; nothing recurses.
 */
#include <stdlib.h>
#include <string.h>

#include "mar_constraint.h"

enum sel_kind { SEL_EXISTS, SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN };

struct sel_term {
    char *key;
    enum sel_kind kind;
    char **vals; /* SEL_EQ/NE: one; SEL_IN/NOTIN: the set */
    size_t nvals, cap;
};

struct mar_label_sel {
    struct sel_term *t;
    size_t n, cap;
};

#define E_NOMEM "Invalid label selector: out of memory"
#define E_TERM "Invalid label selector: expected a label name or value"
#define E_SEP "Invalid label selector: expected ',' between selectors"
#define E_SET "Invalid label selector: expected ',' or ')' in a set"
#define E_ESC "Invalid label selector: '\\' at the end"

struct cursor {
    const char *p;
    const char *why; /* the first error, static */
};

static void skip_ws(struct cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r' ||
           *c->p == '\f' || *c->p == '\v')
        c->p++;
}

static int term_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
}

/* Reads a term after optional whitespace, escapes removed; malloc'ed,
 * or NULL with c->why set. */
static char *read_term(struct cursor *c)
{
    const char *s;
    size_t len = 0;
    char *out;

    skip_ws(c);
    s = c->p;
    /* The unescaped text is never longer than the escaped one. */
    out = malloc(strlen(s) + 1);
    if (out == NULL) {
        c->why = E_NOMEM;
        return NULL;
    }
    while (term_char(*c->p) || *c->p == '\\') {
        if (*c->p == '\\') {
            /* Java's '.' in Marathon's pattern takes no line end. */
            if (c->p[1] == '\0' || c->p[1] == '\n' || c->p[1] == '\r')
                break;
            c->p++;
        }
        out[len++] = *c->p++;
    }
    out[len] = '\0';
    if (len == 0) {
        c->why = (*c->p == '\\') ? E_ESC : E_TERM;
        free(out);
        return NULL;
    }
    return out;
}

static int add_val(struct sel_term *t, char *v)
{
    if (t->nvals == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        char **nv = realloc(t->vals, cap * sizeof *nv);
        if (nv == NULL) {
            free(v);
            return -1;
        }
        t->vals = nv;
        t->cap = cap;
    }
    t->vals[t->nvals++] = v;
    return 0;
}

/* Reads one value into t; 0 or -1 (c->why set). */
static int read_val(struct cursor *c, struct sel_term *t)
{
    char *v = read_term(c);

    if (v == NULL)
        return -1;
    if (add_val(t, v) != 0) {
        c->why = E_NOMEM;
        return -1;
    }
    return 0;
}

/* The set after "in"/"notin", from its '(' on: "( [t {, t}] )". */
static int read_set(struct cursor *c, struct sel_term *t)
{
    skip_ws(c);
    c->p++; /* the '(' the caller saw */
    skip_ws(c);
    if (*c->p == ')') {
        c->p++;
        return 0;
    }
    for (;;) {
        if (read_val(c, t) != 0)
            return -1;
        skip_ws(c);
        if (*c->p == ')') {
            c->p++;
            return 0;
        }
        if (*c->p != ',') {
            c->why = E_SET;
            return -1;
        }
        c->p++;
    }
}

/* When the cursor is at word ("in", "notin") followed by '(' (spaces
 * between allowed), steps over the word and returns 1. */
static int at_set_op(struct cursor *c, const char *word)
{
    size_t len = strlen(word);
    const char *q;

    if (strncmp(c->p, word, len) != 0)
        return 0;
    q = c->p + len;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f' ||
           *q == '\v')
        q++;
    if (*q != '(')
        return 0;
    c->p += len;
    return 1;
}

/* One selector into t (zeroed); 0 or -1 (c->why set; t holds what was
 * read, for term_free()). */
static int read_selector(struct cursor *c, struct sel_term *t)
{
    t->key = read_term(c);
    if (t->key == NULL)
        return -1;
    skip_ws(c);
    if (at_set_op(c, "notin")) {
        t->kind = SEL_NOTIN;
        return read_set(c, t);
    }
    if (at_set_op(c, "in")) {
        t->kind = SEL_IN;
        return read_set(c, t);
    }
    if ((c->p[0] == '=' || c->p[0] == '!') && c->p[1] == '=') {
        t->kind = c->p[0] == '=' ? SEL_EQ : SEL_NE;
        c->p += 2;
        return read_val(c, t);
    }
    t->kind = SEL_EXISTS;
    return 0;
}

static void term_free(struct sel_term *t)
{
    free(t->key);
    for (size_t i = 0; i < t->nvals; i++)
        free(t->vals[i]);
    free(t->vals);
}

void mar_label_sel_free(struct mar_label_sel *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        term_free(&s->t[i]);
    free(s->t);
    free(s);
}

/* Room for one more term, zeroed; NULL when out of memory. */
static struct sel_term *new_term(struct mar_label_sel *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        struct sel_term *nt = realloc(s->t, cap * sizeof *nt);
        if (nt == NULL)
            return NULL;
        s->t = nt;
        s->cap = cap;
    }
    memset(&s->t[s->n], 0, sizeof s->t[s->n]);
    return &s->t[s->n++];
}

/* Reads every selector of c into s; 0 or -1 (c->why set). */
static int read_all(struct cursor *c, struct mar_label_sel *s)
{
    skip_ws(c);
    if (*c->p == '\0')
        return 0;
    for (;;) {
        struct sel_term *t = new_term(s);
        if (t == NULL) {
            c->why = E_NOMEM;
            return -1;
        }
        if (read_selector(c, t) != 0)
            return -1;
        skip_ws(c);
        if (*c->p == '\0')
            return 0;
        if (*c->p != ',') {
            c->why = E_SEP;
            return -1;
        }
        c->p++;
    }
}

struct mar_label_sel *mar_label_sel_parse(const char *text, const char **why)
{
    struct mar_label_sel *s = calloc(1, sizeof *s);
    struct cursor c = {.p = text, .why = NULL};

    if (s == NULL) {
        if (why != NULL)
            *why = E_NOMEM;
        return NULL;
    }
    if (read_all(&c, s) != 0) {
        if (why != NULL)
            *why = c.why;
        mar_label_sel_free(s);
        return NULL;
    }
    return s;
}

/* The value of label key, or NULL when the app has no such label. */
static const char *label_value(const struct mar_kv *labels, size_t n,
                               const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i].key != NULL && strcmp(labels[i].key, key) == 0)
            return labels[i].value != NULL ? labels[i].value : "";
    return NULL;
}

static int in_set(const struct sel_term *t, const char *v)
{
    for (size_t i = 0; i < t->nvals; i++)
        if (strcmp(t->vals[i], v) == 0)
            return 1;
    return 0;
}

static int term_match(const struct sel_term *t, const struct mar_kv *labels,
                      size_t n)
{
    const char *v = label_value(labels, n, t->key);

    if (v == NULL)
        return 0;
    switch (t->kind) {
    case SEL_EXISTS:
        return 1;
    case SEL_EQ:
    case SEL_IN:
        return in_set(t, v);
    case SEL_NE:
    case SEL_NOTIN:
        return !in_set(t, v);
    }
    return 0;
}

int mar_label_sel_match(const struct mar_label_sel *s,
                        const struct mar_kv *labels, size_t n)
{
    for (size_t i = 0; i < s->n; i++)
        if (!term_match(&s->t[i], labels, n))
            return 0;
    return 1;
}
