/*
 * store_zk_cache.c - what the ZooKeeper store knows of its znodes, so
 * that a batch scans only what it does not know (see store_zk_int.h).
 *
 * A node is known when it is cached, or when its nearest cached
 * ancestor is missing, or complete (every child of it that exists is
 * cached: it was created by us, or had no children when read, and every
 * child made since was made by us): it is missing then. Entries come from scans
 * and from our own multis once applied. They go stale only when someone else
 * writes under the root, which a fenced master's single writer rules out; a
 * stale entry can only make a multi fail (ZooKeeper checks what the
 * multi assumes), and such a failure, an answer lost with the
 * connection, or a new term clears the cache. No entry is ever evicted
 * alone (a parent's completeness would go with it): past CACHE_MAX
 * entries the whole cache is cleared, between batches.
 */
#include "store_zk_int.h"

#include <stdlib.h>
#include <string.h>

#include <agora/sdk.h>

struct cnode {
    struct znode_info info;
    char path[]; /* the map's key */
};

int zcache_lookup(const struct map *c, const char *path, struct znode_info *out)
{
    const struct cnode *n = map_get(c, path);
    char *up, *slash;
    int known = 0;

    if (n != NULL) {
        *out = n->info;
        return 1;
    }
    /* The nearest ancestor cached: missing, or complete, and then its
     * child on our path (not cached) is missing, and all below it. */
    if ((up = strdup(path)) == NULL)
        return 0;
    while ((slash = strrchr(up, '/')) != NULL && slash != up) {
        *slash = '\0';
        if ((n = map_get(c, up)) != NULL) {
            known = !n->info.exists || n->info.complete;
            break;
        }
    }
    free(up);
    if (known) {
        memset(out, 0, sizeof(*out)); /* missing */
        out->version = -1;
    }
    return known;
}

int zcache_set(struct map *c, const char *path, const struct znode_info *in)
{
    struct cnode *n = map_get(c, path);
    size_t len;

    if (n != NULL) {
        n->info = *in;
        return 0;
    }
    len = strlen(path);
    n = malloc(sizeof(*n) + len + 1);
    if (n == NULL)
        return AGORA_ENOMEM;
    memcpy(n->path, path, len + 1);
    n->info = *in;
    if (map_put(c, n->path, n, NULL) != 0) {
        free(n);
        return AGORA_ENOMEM;
    }
    return 0;
}

void zcache_clear(struct map *c)
{
    size_t pos = 0;
    const char *key;
    void *v;

    while (map_next(c, &pos, &key, &v)) {
        map_remove(c, key);
        free(v);
    }
}
