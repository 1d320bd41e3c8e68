/*
 * agora/map.h - a hash table of strings to pointers, in libagora-sdk.a.
 *
 * Plugins look things up by id on every status update and request (apps,
 * tasks, jobs): with tens of thousands of them a list costs more than the
 * update itself. Keys are copied; values are borrowed. Zero-initialise a
 * struct agora_map to start; agora_map_free() frees the table and its
 * keys, never the values. Walking order is the table's, not insertion.
 */
#ifndef AGORA_MAP_H
#define AGORA_MAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct agora_map_slot {
    char *key;   /* owned copy; NULL = empty; a marker = deleted */
    void *value;
};

struct agora_map {
    struct agora_map_slot *slots;
    size_t cap, n, used; /* n: entries; used: entries and deleted slots */
};

/* Adds or replaces key's value. 0, or AGORA_ENOMEM (nothing changed). */
int agora_map_put(struct agora_map *m, const char *key, void *value);
/* key's value, or NULL. */
void *agora_map_get(const struct agora_map *m, const char *key);
/* Removes key; returns its value, or NULL when absent. */
void *agora_map_del(struct agora_map *m, const char *key);
/* Walks the map: *i starts at 0; each call returns the next value, NULL
 * at the end. Deleting the entry just returned is allowed; adding is not. */
void *agora_map_next(const struct agora_map *m, size_t *i);
void agora_map_free(struct agora_map *m);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_MAP_H */
