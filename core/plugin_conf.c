/*
 * plugin_conf.c - conf.d/<name>.conf files and typed plugin configuration.
 */
#include "plugin_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fs.h"

/* A conf file larger than this is refused rather than read. */
#define PLUGIN_CONF_MAX (256 * 1024)

/* The keys every plugin conf may carry, whatever the plugin declares. */
static const char *const plugin_core_keys[] = {"plugin", "port", "role",
                                               "principal", "authenticate",
                                               "http_credentials", NULL};

void plugin_conf_free(struct plugin_conf *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    free(c->path);
    free(c->so);
    free(c->text);
    memset(c, 0, sizeof(*c));
}

static int plugin_conf_push(struct plugin_conf *c, const char *k,
                            const char *v)
{
    char **keys = realloc(c->keys, (c->n + 1) * sizeof(*keys));
    char **values;

    if (keys == NULL)
        return AGORA_ENOMEM;
    c->keys = keys;
    values = realloc(c->values, (c->n + 1) * sizeof(*values));
    if (values == NULL)
        return AGORA_ENOMEM;
    c->values = values;
    c->keys[c->n] = strdup(k);
    c->values[c->n] = strdup(v);
    if (!c->keys[c->n] || !c->values[c->n]) {
        free(c->keys[c->n]);
        free(c->values[c->n]);
        return AGORA_ENOMEM;
    }
    c->n++;
    return 0;
}

/* Parses one line; 0 (possibly nothing to add) or AGORA_EINVAL. */
static int plugin_conf_line(struct plugin_conf *c, char *line, int lineno,
                            char *err, size_t errlen)
{
    char *eq, *key, *value;
    size_t len;

    line = conf_trim(line);
    if (*line == '\0' || *line == '#')
        return 0;
    eq = strchr(line, '=');
    if (eq == NULL) {
        snprintf(err, errlen, "%s:%d: expected 'key = value'", c->path,
                 lineno);
        return AGORA_EINVAL;
    }
    *eq = '\0';
    key = conf_trim(line);
    value = conf_trim(eq + 1);
    len = strlen(value);
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        value[len - 1] = '\0';
        value++;
    }
    if (*key == '\0') {
        snprintf(err, errlen, "%s:%d: empty key", c->path, lineno);
        return AGORA_EINVAL;
    }
    if (plugin_conf_get(c, key)) {
        snprintf(err, errlen, "%s:%d: key '%s' given twice", c->path, lineno,
                 key);
        return AGORA_EINVAL;
    }
    return plugin_conf_push(c, key, value);
}

/* A conf that holds a secret (http_credentials) must not be readable by
 * every user. */
static int plugin_conf_secret_check(const struct plugin_conf *c, char *err,
                                    size_t errlen)
{
    struct stat st;

    if (plugin_conf_get(c, "http_credentials") == NULL)
        return 0;
    if (stat(c->path, &st) < 0 || (st.st_mode & S_IROTH)) {
        snprintf(err, errlen, "%s holds http_credentials and every user may "
                              "read it: chmod o-r it", c->path);
        return -1;
    }
    return 0;
}

int plugin_conf_read(const char *path, struct plugin_conf *c, char *err,
                     size_t errlen)
{
    char *copy, *line, *save = NULL;
    int rc, lineno = 0;

    memset(c, 0, sizeof(*c));
    if ((c->path = strdup(path)) == NULL)
        return AGORA_ENOMEM;
    rc = fs_read_file(path, PLUGIN_CONF_MAX, &c->text, NULL);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == AGORA_ETOOBIG ? "file too large" : strerror(errno));
        plugin_conf_free(c);
        return rc == AGORA_ENOMEM ? rc : AGORA_EIO;
    }
    if ((copy = strdup(c->text)) == NULL) {
        plugin_conf_free(c);
        return AGORA_ENOMEM;
    }
    /* strtok_r skips empty lines, so count them by hand for messages. */
    for (line = copy; line; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        rc = plugin_conf_line(c, line, lineno, err, errlen);
        if (rc < 0)
            break;
    }
    free(copy);
    if (rc == 0 && (rc = plugin_conf_secret_check(c, err, errlen)) < 0)
        rc = AGORA_EINVAL;
    if (rc < 0)
        plugin_conf_free(c);
    return rc;
}

const char *plugin_conf_get(const struct plugin_conf *c, const char *key)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

static int plugin_conf_is_core_key(const char *key)
{
    size_t i;

    for (i = 0; plugin_core_keys[i]; i++)
        if (strcmp(plugin_core_keys[i], key) == 0)
            return 1;
    return 0;
}

static const struct agora_conf_field *
plugin_conf_field(const struct agora_plugin *d, const char *key)
{
    const struct agora_conf_field *f;

    for (f = d->conf; f && f->key; f++)
        if (strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

/* Checks that every field fits in the block the plugin declared. */
static int plugin_conf_table_valid(const struct agora_plugin *d, char *err,
                                   size_t errlen)
{
    static const size_t sizes[] = {0, sizeof(char *), sizeof(int64_t),
                                   sizeof(double), sizeof(int),
                                   sizeof(double)};
    const struct agora_conf_field *f;

    for (f = d->conf; f && f->key; f++) {
        if (f->type < AGORA_CONF_STRING || f->type > AGORA_CONF_DURATION ||
            f->offset + sizes[f->type] > d->conf_size) {
            snprintf(err, errlen,
                     "conf key '%s' has a bad type or lies outside the "
                     "conf block",
                     f->key);
            return AGORA_EINVAL;
        }
    }
    return 0;
}

int plugin_conf_apply(const struct plugin_conf *c,
                      const struct agora_plugin *d, void **block, char *err,
                      size_t errlen)
{
    const char *where = c->path ? c->path : "defaults";
    char why[256];
    size_t i;
    void *b;

    if (plugin_conf_table_valid(d, err, errlen) < 0)
        return AGORA_EINVAL;
    b = calloc(1, d->conf_size ? d->conf_size : 1);
    if (b == NULL)
        return AGORA_ENOMEM;
    if (d->conf && conf_defaults(d->conf, b, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: bad default: %s", d->name, why);
        goto fail;
    }
    for (i = 0; i < c->n; i++) {
        const struct agora_conf_field *f = plugin_conf_field(d, c->keys[i]);

        if (f == NULL) {
            if (plugin_conf_is_core_key(c->keys[i]))
                continue;
            snprintf(err, errlen, "%s: unknown key '%s' for plugin %s",
                     where, c->keys[i], d->name);
            goto fail;
        }
        if (conf_value_parse(f->type, c->values[i], (char *)b + f->offset,
                             why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: %s: %s", where, f->key, why);
            goto fail;
        }
    }
    *block = b;
    return 0;
fail:
    plugin_conf_block_free(d, b);
    return AGORA_EINVAL;
}

void plugin_conf_block_free(const struct agora_plugin *d, void *block)
{
    if (block == NULL)
        return;
    if (d->conf)
        conf_release(d->conf, block);
    free(block);
}
