/*
 * alloc_res.h - resources as the allocator counts them.
 *
 * A bundle holds the resources of one role: cpus, mem, disk and gpus as
 * integers in thousandths (Mesos' fixed point, so sums never drift),
 * ports as sorted, merged ranges, and any other resource in a generic
 * list that takes the SDK's slower path. Bundles are plain values: zero
 * is empty, ar_free() releases what they own.
 */
#ifndef AGORA_ALLOC_RES_H
#define AGORA_ALLOC_RES_H

#include <stddef.h>
#include <stdint.h>

#include <agora/plugin.h>

enum { AR_CPUS, AR_MEM, AR_DISK, AR_GPUS, AR_N };

extern const char *const ar_names[AR_N];

struct ar_ranges {
    struct agora_range *v;
    size_t n, cap;
};

struct ar_bundle {
    int64_t s[AR_N];
    struct ar_ranges ports;
    struct agora_resources extra;
};

/* Thousandths of a scalar, rounded; and back. */
int64_t ar_milli(double v);
double ar_unmilli(int64_t m);

void ar_free(struct ar_bundle *b);
int ar_copy(struct ar_bundle *dst, const struct ar_bundle *src);
int ar_is_empty(const struct ar_bundle *b);

/* dst += src. */
int ar_add(struct ar_bundle *dst, const struct ar_bundle *src);
/* dst -= src; AGORA_EINVAL (dst unchanged) unless dst contains src. */
int ar_sub(struct ar_bundle *dst, const struct ar_bundle *src);
/* dst -= src without the check, clamping scalars at zero (for counters
 * that may legitimately lag, such as a framework's allocation). */
void ar_sub_clamp(struct ar_bundle *dst, const struct ar_bundle *src);
int ar_contains(const struct ar_bundle *a, const struct ar_bundle *b);

/*
 * Adds the resources of r whose role is `role` ("*" for unreserved) to
 * *b. With role NULL, takes every resource whatever its role.
 */
int ar_from(const struct agora_resources *r, const char *role,
            struct ar_bundle *b);

/* Appends b to out as resources of `role`. */
int ar_to(const struct ar_bundle *b, const char *role,
          struct agora_resources *out);

/* Ranges. */
int ar_ranges_add(struct ar_ranges *dst, const struct ar_ranges *src);
int ar_ranges_sub(struct ar_ranges *dst, const struct ar_ranges *src);
int ar_ranges_contains(const struct ar_ranges *a, const struct ar_ranges *b);
void ar_ranges_free(struct ar_ranges *r);

#endif /* AGORA_ALLOC_RES_H */
