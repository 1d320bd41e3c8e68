/*
 * map.h - a hash map from strings to pointers.
 *
 * Open addressing with linear probing; the map copies keys and owns the
 * copies (unless told to borrow them), values are borrowed. Lookup, insert and remove are O(1) on
 * average; iteration visits every entry once in no particular order, and
 * removing the entry just visited during iteration is allowed.
 */
#ifndef AGORA_MAP_H
#define AGORA_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_slot {
    char *key; /* NULL: empty; MAP_TOMB: removed */
    uint32_t hash;
    void *value;
};

struct map {
    struct map_slot *slots;
    size_t cap;  /* a power of two, or 0 */
    size_t len;  /* live entries */
    size_t used; /* live + removed slots */
    /* Set before the first put: keys are the caller's, not copied; each
     * must stay valid and unchanged while its entry is in the map (a key
     * inside the value itself, say). Saves an allocation per entry. */
    int borrowed;
};

#define MAP_INIT {NULL, 0, 0, 0, 0}

/* Frees the keys and the table; values are the caller's. */
void map_free(struct map *m);

/* The value stored under key, or NULL. */
void *map_get(const struct map *m, const char *key);

/*
 * Stores value under key, replacing any value there (returned in *old
 * when old is not NULL, else dropped). Returns 0 or AGORA_ENOMEM, in which
 * case the map is unchanged.
 */
int map_put(struct map *m, const char *key, void *value, void **old);

/* Removes key; returns its value, or NULL when absent. */
void *map_remove(struct map *m, const char *key);

/*
 * Iteration: start with *pos = 0; returns 1 with the next entry's key
 * (borrowed, valid until it is removed) and value, 0 at the end.
 */
int map_next(const struct map *m, size_t *pos, const char **key,
             void **value);

/* The FNV-1a hash the map uses, for callers that shard by it. */
uint32_t map_hash(const char *key);

#endif /* AGORA_MAP_H */
