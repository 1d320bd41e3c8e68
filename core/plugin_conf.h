/*
 * plugin_conf.h - conf.d/<name>.conf files: read as key = value lines,
 * then applied to a plugin's typed conf table (its descriptor's conf
 * fields), unknown keys refused. Knows no plugin host, no master.
 */
#ifndef AGORA_PLUGIN_CONF_H
#define AGORA_PLUGIN_CONF_H

#include <stddef.h>

#include <agora/plugin.h>

/* A plugin's conf file, read but not yet applied to a descriptor. */
struct plugin_conf {
    char *path;   /* the .conf file, or NULL for a bare drop-in     */
    char *so;     /* the shared object to load (resolved path)      */
    char *text;   /* the file's bytes, to tell a changed conf       */
    char **keys;  /* key = value pairs, in file order               */
    char **values;
    size_t n;
};

/*
 * Reads a key = value conf file into c. Lines are `key = value`, blank,
 * or comments starting with '#'; a value may be double-quoted. Returns 0
 * or AGORA_EINVAL/AGORA_EIO with the reason (file and line) in err.
 */
int plugin_conf_read(const char *path, struct plugin_conf *c, char *err,
                     size_t errlen);

/* The value of key, or NULL. Borrowed from c. */
const char *plugin_conf_get(const struct plugin_conf *c, const char *key);

/*
 * Builds the typed conf block of desc from c: defaults, then values.
 * Unknown keys (other than plugin, port, role, principal, authenticate,
 * http_credentials) are refused.
 * Returns 0 with a malloc'ed block (free with plugin_conf_block_free) or
 * AGORA_EINVAL with the reason in err.
 */
int plugin_conf_apply(const struct plugin_conf *c,
                      const struct agora_plugin *desc, void **block,
                      char *err, size_t errlen);
/* Frees a block plugin_conf_apply() built for desc (its strings too). */
void plugin_conf_block_free(const struct agora_plugin *desc, void *block);

/* Frees what c holds (not c itself) and leaves it empty. */
void plugin_conf_free(struct plugin_conf *c);

#endif /* AGORA_PLUGIN_CONF_H */
