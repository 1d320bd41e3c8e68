/*
 * agora/resources.h - resource strings and arithmetic, as in Mesos.
 *
 * The text form is the one of `mesos-agent --resources` and agora-agent's
 * --resources:
 *
 *     cpus:2;mem:1024;disk:10000;ports:[31000-32000,33000-33010]
 *     cpus(analytics):2;cpus:2;disks:{ssd1,ssd2}
 *
 * A name may carry a role in parentheses ("*" when absent). Scalars are
 * non-negative and kept to three decimals; ranges are inclusive, sorted
 * and merged; sets are sorted and without duplicates. The same name and
 * role given twice are added together.
 *
 * Part of libagora-sdk.a. Every function that can fail returns 0 or an
 * agora_err (see plugin.h).
 */
#ifndef AGORA_RESOURCES_H
#define AGORA_RESOURCES_H

#include <stddef.h>

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Parses `text` into *out (which must be empty: zero-initialised or
 * freed). On failure *out is left empty and, when err is not NULL, a
 * one-line reason naming the offending part is written to err (errlen
 * bytes, NUL-terminated).
 */
int agora_resources_parse(const char *text, struct agora_resources *out,
                          char *err, size_t errlen);

/*
 * Formats r as text into out (outlen bytes, NUL-terminated when
 * outlen > 0). Returns the length the whole text needs without the NUL,
 * as snprintf does; the text is complete only when that is < outlen.
 */
size_t agora_resources_format(const struct agora_resources *r, char *out,
                              size_t outlen);

/*
 * r as text, as agora_resources_format() writes it, in a malloc'ed
 * string the caller frees; NULL when out of memory.
 */
char *agora_resources_text(const struct agora_resources *r);

/* Frees what r owns and leaves it empty. */
void agora_resources_free(struct agora_resources *r);

/* A deep copy of src into the empty *dst. */
int agora_resources_copy(struct agora_resources *dst,
                         const struct agora_resources *src);

/* dst += src (same name and role add up; ranges and sets unite). */
int agora_resources_add(struct agora_resources *dst,
                        const struct agora_resources *src);

/*
 * dst -= src. Returns AGORA_EINVAL, leaving dst unchanged, when src is not
 * contained in dst. Resources that reach zero (or empty) are removed.
 */
int agora_resources_subtract(struct agora_resources *dst,
                             const struct agora_resources *src);

/* 1 when every resource of b is within a (same name and role), else 0. */
int agora_resources_contains(const struct agora_resources *a,
                             const struct agora_resources *b);

/* The resource of that name and role ("*" when role is NULL), or NULL. */
const struct agora_resource *
agora_resources_find(const struct agora_resources *r, const char *name,
                     const char *role);

/* The sum of a scalar over all roles (0 when absent). */
double agora_resources_scalar(const struct agora_resources *r,
                              const char *name);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_RESOURCES_H */
