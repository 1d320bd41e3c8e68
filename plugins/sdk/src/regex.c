/*
 * regex.c - what a POSIX extended regular expression costs glibc's
 * regcomp() before it is compiled.
 *
 * regcomp() builds a tree and copies the operand of each `+` (x+ is xx*)
 * and of each counted repetition (x{3} is xxx), so stacked or nested
 * repetitions grow it exponentially: "a" and 20 `+` took 700 MB and a
 * second of CPU, 30 of them exhaust any machine (found by
 * tests/fuzz/fuzz_json through Marathon's and Chronos' LIKE
 * constraints). The walk below sizes the tree as regcomp expands it,
 * over-estimating where unsure, without recursion, and stops counting
 * past the caller's limit.
 *
 * Size is not the only cost: a repetition of an operand that can match
 * the empty string, nested in another such repetition, makes regcomp's
 * epsilon closures explode in time though the tree stays small:
 * "^((((a?)+)+)+)+$" takes 8 ms, one more "(...)+" 12.8 s, and
 * "^(a??????????+++)$" over 20 s. The walk also tracks, per item,
 * whether it can match empty and how many such repetitions it nests,
 * and refuses (limit + 1) a pattern nesting more than RE_EMPTY_REPS.
 */
#include <stdlib.h>

#include <agora/sdk.h>

#define RE_DEPTH_MAX 64 /* deeper groups: refused (over the limit) */
/* The most repetitions of an operand that can match empty nested in one
 * another. Two already take seconds where the copies are many:
 * "^(1?+{31})$" and "^((a*?){20}+)$" ran over a minute. With one, 3.2
 * million random patterns of operators and groups compiled in at most
 * 22 ms each. */
#define RE_EMPTY_REPS 1

/* An item (a character, class or group with its operators so far), or
 * an alternative or group being read. */
struct re_item {
    size_t size;   /* regcomp's nodes                       */
    unsigned reps; /* repetitions of empty-matching operands
                    * nested in it                           */
    int empty;     /* it can match the empty string          */
};

struct re_frame {
    struct re_item alt;  /* the current alternative's items before last */
    struct re_item last; /* the item a postfix operator applies to      */
    size_t total;        /* the group's finished alternatives             */
    unsigned reps;       /* the most reps of any finished alternative     */
    int empty;           /* a finished alternative matches empty          */
    int has_last;
};

static size_t re_add(size_t a, size_t b, size_t cap)
{
    return a > cap || b > cap - a ? cap + 1 : a + b;
}

static size_t re_mul(size_t a, size_t b, size_t cap)
{
    return b != 0 && a > cap / b ? cap + 1 : a * b;
}

/* Past a bracket expression starting at p ('['); its end or the NUL. */
static const char *re_bracket(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    for (; *p && *p != ']'; p++) {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char kind = p[1];

            for (p += 2; *p && !(p[0] == kind && p[1] == ']'); p++)
                ;
            if (*p == '\0')
                return p;
            p++;
        }
    }
    return p;
}

/* An interval "{n}", "{n,}" or "{n,m}" at p: the copies it makes, and
 * *end past it; 0 when p holds no interval (then '{' is a character).
 * *nest: the optional copies regcomp() nests in one another, m - n of
 * "{n,m}" (x{1,3} is x(x(x)?)?), else 1. */
static size_t re_interval(const char *p, const char **end, size_t *nest)
{
    char *e;
    unsigned long n = strtoul(p + 1, &e, 10), m = n;

    if (p[1] == ',') /* glibc reads "{,m}" as "{0,m}" */
        n = 0, e = (char *)p + 1;
    else if (e == p + 1 || *e == '-' || p[1] < '0' || p[1] > '9')
        return 0;
    *nest = 1;
    if (*e == ',') {
        if (e[1] >= '0' && e[1] <= '9') {
            m = strtoul(e + 1, &e, 10);
            if (m > n + 1)
                *nest = m - n > 1000 ? 1000 : (size_t)(m - n);
        } else {
            m = n + 1, e++; /* {n,}: n copies and a star */
        }
    }
    if (*e != '}')
        return 0;
    *end = e;
    if (m < n)
        m = n;
    return m >= (unsigned long)-2 ? (size_t)-1 : (size_t)m + 1;
}

/* The item after alt: appended (concatenation). */
static void re_concat(struct re_item *alt, const struct re_item *it,
                      size_t cap)
{
    alt->size = re_add(alt->size, it->size, cap);
    alt->empty = alt->empty && it->empty;
    if (it->reps > alt->reps)
        alt->reps = it->reps;
}

static void re_frame_init(struct re_frame *f)
{
    *f = (struct re_frame){{0, 0, 1}, {0, 0, 1}, 0, 0, 0, 0};
}

/* The current alternative ends (a '|' or the group's close). */
static void re_alt_end(struct re_frame *f, size_t cap)
{
    if (f->has_last)
        re_concat(&f->alt, &f->last, cap);
    f->total = re_add(re_add(f->total, f->alt.size, cap), 1, cap);
    f->empty = f->empty || f->alt.empty;
    if (f->alt.reps > f->reps)
        f->reps = f->alt.reps;
    f->alt = (struct re_item){0, 0, 1};
    f->has_last = 0;
}

/* A postfix operator on the last item: copies copies of it (2 for '+',
 * the interval's for {}, 1 for '*' and '?'), whether the result can
 * match empty whatever the operand, and how many repetitions it nests
 * (see re_interval). */
static void re_repeat(struct re_frame *f, size_t copies, int empty,
                      size_t nest, size_t cap)
{
    struct re_item *it = &f->last;

    if (!f->has_last) { /* a leading operator: a character to regcomp */
        *it = (struct re_item){1, 0, 0};
        f->has_last = 1;
    }
    it->size = re_add(re_mul(it->size ? it->size : 1, copies, cap), 1, cap);
    if (it->empty)
        it->reps = it->reps + nest > RE_EMPTY_REPS ? RE_EMPTY_REPS + 1
                                                   : it->reps + (unsigned)nest;
    it->empty = it->empty || empty;
}

/* One character or class as the next item. */
static void re_char(struct re_frame *f, size_t cap)
{
    if (f->has_last)
        re_concat(&f->alt, &f->last, cap);
    f->last = (struct re_item){1, 0, 0};
    f->has_last = 1;
}

static size_t re_result(const struct re_frame *f, size_t limit)
{
    return f->total > limit || f->reps > RE_EMPTY_REPS ? limit + 1
                                                       : f->total;
}

size_t agora_regex_size(const char *p, size_t limit)
{
    struct re_frame st[RE_DEPTH_MAX + 1];
    size_t depth = 0, k, nest;
    const char *end;

    re_frame_init(&st[0]);
    for (; *p; p++) {
        struct re_frame *f = &st[depth];

        switch (*p) {
        case '(':
            if (depth == RE_DEPTH_MAX)
                return limit + 1;
            re_frame_init(&st[++depth]);
            continue;
        case ')':
            /* Unmatched: a character to regcomp, but callers wrap the
             * pattern in "^(...)$", where it would close their group
             * and leave the rest unsized. */
            if (depth == 0)
                return limit + 1;
            re_alt_end(f, limit);
            depth--;
            if (st[depth].has_last)
                re_concat(&st[depth].alt, &st[depth].last, limit);
            st[depth].last = (struct re_item){re_add(f->total, 1, limit),
                                              f->reps, f->empty};
            st[depth].has_last = 1;
            continue;
        case '|':
            re_alt_end(f, limit);
            continue;
        case '*':
        case '?':
        case '+':
            re_repeat(f, *p == '+' ? 2 : 1, *p != '+', 1, limit);
            if (f->last.reps > RE_EMPTY_REPS)
                return limit + 1;
            continue;
        case '{':
            if ((k = re_interval(p, &end, &nest)) == 0)
                break; /* a character */
            re_repeat(f, k, p[1] == '0' || p[1] == ',', nest, limit);
            p = end;
            if (f->last.reps > RE_EMPTY_REPS)
                return limit + 1;
            continue;
        case '[':
            p = re_bracket(p);
            if (*p == '\0')
                p--; /* unterminated: regcomp refuses it */
            break;
        case '\\':
            if (p[1])
                p++;
            break;
        }
        re_char(f, limit);
        if (f->alt.size > limit || f->alt.reps > RE_EMPTY_REPS)
            return limit + 1;
    }
    while (depth > 0) { /* unbalanced: regcomp refuses it; sized anyway */
        struct re_frame *f = &st[depth];

        re_alt_end(f, limit);
        depth--;
        if (st[depth].has_last)
            re_concat(&st[depth].alt, &st[depth].last, limit);
        st[depth].last = (struct re_item){f->total, f->reps, f->empty};
        st[depth].has_last = 1;
    }
    re_alt_end(&st[0], limit);
    return re_result(&st[0], limit);
}
