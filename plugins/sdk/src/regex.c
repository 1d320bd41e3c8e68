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
 */
#include <stdlib.h>

#include <agora/sdk.h>

#define RE_DEPTH_MAX 64 /* deeper groups: refused (over the limit) */

struct re_frame {
    size_t total; /* the group's alternatives and items so far */
    size_t last;  /* the item a postfix operator applies to      */
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
 * *end past it; 0 when p holds no interval (then '{' is a character). */
static size_t re_interval(const char *p, const char **end)
{
    char *e;
    unsigned long n = strtoul(p + 1, &e, 10), m = n;

    if (e == p + 1 || *e == '-')
        return 0;
    if (*e == ',') {
        if (e[1] >= '0' && e[1] <= '9')
            m = strtoul(e + 1, &e, 10);
        else
            m = n + 1, e++; /* {n,}: n copies and a star */
    }
    if (*e != '}')
        return 0;
    *end = e;
    if (m < n)
        m = n;
    return m >= (unsigned long)-2 ? (size_t)-1 : (size_t)m + 1;
}

size_t agora_regex_size(const char *p, size_t limit)
{
    struct re_frame st[RE_DEPTH_MAX + 1] = {{0, 0}};
    size_t depth = 0, k;
    const char *end;

    for (; *p; p++) {
        struct re_frame *f = &st[depth];

        switch (*p) {
        case '(':
            if (depth == RE_DEPTH_MAX)
                return limit + 1;
            st[++depth] = (struct re_frame){0, 0};
            continue;
        case ')':
            if (depth == 0)
                break; /* a character */
            k = re_add(re_add(f->total, f->last, limit), 1, limit);
            depth--;
            st[depth].total = re_add(st[depth].total, st[depth].last, limit);
            st[depth].last = k;
            continue;
        case '|':
            f->total = re_add(re_add(f->total, f->last, limit), 1, limit);
            f->last = 0;
            continue;
        case '*':
        case '?':
            f->last = re_add(f->last, 1, limit);
            continue;
        case '+':
            f->last = re_add(re_mul(f->last, 2, limit), 1, limit);
            continue;
        case '{':
            if ((k = re_interval(p, &end)) == 0)
                break; /* a character */
            f->last = re_mul(f->last ? f->last : 1, k, limit);
            p = end;
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
        /* One character (or class): the item after f->last. */
        f->total = re_add(f->total, f->last, limit);
        f->last = 1;
        if (f->total > limit)
            return limit + 1;
    }
    while (depth > 0) { /* unbalanced: regcomp refuses it; sized anyway */
        k = re_add(st[depth].total, st[depth].last, limit);
        depth--;
        st[depth].total = re_add(st[depth].total, k, limit);
    }
    k = re_add(st[0].total, st[0].last, limit);
    return k > limit ? limit + 1 : k;
}
