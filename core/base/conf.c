/*
 * conf.c - typed configuration: flags, environment, config directories.
 */
#include "conf.h"
#include "fs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

/* A value file larger than this is refused rather than read. */
#define CONF_FILE_MAX (64 * 1024)

char *conf_trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static const struct {
    const char *unit;
    double secs;
} conf_units[] = {
    {"ns", 1e-9},   {"us", 1e-6},     {"ms", 1e-3},     {"secs", 1},
    {"sec", 1},     {"s", 1},         {"mins", 60},     {"min", 60},
    {"m", 60},      {"hrs", 3600},    {"hr", 3600},     {"h", 3600},
    {"days", 86400}, {"day", 86400},  {"d", 86400},     {"weeks", 604800},
    {"week", 604800}, {"w", 604800},
};

int conf_duration_parse(const char *text, double *secs)
{
    char *end;
    double v;
    size_t i;

    errno = 0;
    v = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(v) || v < 0)
        return AGORA_EINVAL;
    while (isspace((unsigned char)*end))
        end++;
    if (*end == '\0') {
        *secs = v;
        return 0;
    }
    for (i = 0; i < sizeof(conf_units) / sizeof(conf_units[0]); i++) {
        if (strcmp(end, conf_units[i].unit) == 0) {
            *secs = v * conf_units[i].secs;
            return 0;
        }
    }
    return AGORA_EINVAL;
}

static int conf_bool_parse(const char *text, int *out)
{
    if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0 ||
        strcasecmp(text, "yes") == 0 || strcasecmp(text, "on") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0 ||
        strcasecmp(text, "no") == 0 || strcasecmp(text, "off") == 0) {
        *out = 0;
        return 0;
    }
    return AGORA_EINVAL;
}

int conf_value_parse(enum agora_conf_type type, const char *text, void *dst,
                     char *err, size_t errlen)
{
    char *end;

    switch (type) {
    case AGORA_CONF_STRING: {
        char *copy = strdup(text);

        if (copy == NULL) {
            snprintf(err, errlen, "out of memory");
            return AGORA_ENOMEM;
        }
        free(*(char **)dst);
        *(char **)dst = copy;
        return 0;
    }
    case AGORA_CONF_INT: {
        long long v;

        errno = 0;
        v = strtoll(text, &end, 10);
        if (end == text || *end != '\0' || errno != 0) {
            snprintf(err, errlen, "'%s' is not an integer", text);
            return AGORA_EINVAL;
        }
        *(int64_t *)dst = v;
        return 0;
    }
    case AGORA_CONF_DOUBLE: {
        double v;

        errno = 0;
        v = strtod(text, &end);
        if (end == text || *end != '\0' || errno != 0 || !isfinite(v)) {
            snprintf(err, errlen, "'%s' is not a number", text);
            return AGORA_EINVAL;
        }
        *(double *)dst = v;
        return 0;
    }
    case AGORA_CONF_BOOL:
        if (conf_bool_parse(text, (int *)dst) < 0) {
            snprintf(err, errlen, "'%s' is not a boolean (true or false)",
                     text);
            return AGORA_EINVAL;
        }
        return 0;
    case AGORA_CONF_DURATION:
        if (conf_duration_parse(text, (double *)dst) < 0) {
            snprintf(err, errlen,
                     "'%s' is not a duration (e.g. 500ms, 15secs, 2mins)",
                     text);
            return AGORA_EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown type %d", (int)type);
    return AGORA_EINVAL;
}

static const conf_field *conf_find(const conf_field *table, const char *name,
                                   size_t len)
{
    for (; table->key; table++)
        if (strlen(table->key) == len && strncmp(table->key, name, len) == 0)
            return table;
    return NULL;
}

int conf_defaults(const conf_field *table, void *conf, char *err,
                  size_t errlen)
{
    for (; table->key; table++) {
        char *dst = (char *)conf + table->offset;

        if (table->dflt == NULL)
            continue;
        if (conf_value_parse(table->type, table->dflt, dst, err, errlen) < 0)
            return AGORA_EINVAL;
    }
    return 0;
}

void conf_release(const conf_field *table, void *conf)
{
    for (; table->key; table++) {
        if (table->type == AGORA_CONF_STRING) {
            char **p = (char **)((char *)conf + table->offset);

            free(*p);
            *p = NULL;
        }
    }
}

/* Sets one key, naming its source in any error. */
static int conf_set(const conf_field *f, void *conf, const char *value,
                    const char *source, char *err, size_t errlen)
{
    char why[256];

    if (conf_value_parse(f->type, value, (char *)conf + f->offset, why,
                         sizeof(why)) < 0) {
        snprintf(err, errlen, "%s %s: %s", source, f->key, why);
        return AGORA_EINVAL;
    }
    return 0;
}

/* Reads a small file into a malloc'ed, trimmed string. */
static int conf_read_small(const char *path, char **out)
{
    char *buf;
    int rc = fs_read_file(path, CONF_FILE_MAX, &buf, NULL);

    if (rc < 0)
        return rc;
    memmove(buf, conf_trim(buf), strlen(conf_trim(buf)) + 1);
    *out = buf;
    return 0;
}

/* Applies the file <dir>/<key> of every key that has one. */
static int conf_apply_dir(const conf_field *table, void *conf,
                          const char *dir, const unsigned char *set,
                          char *err, size_t errlen)
{
    size_t i;

    for (i = 0; table[i].key; i++) {
        char *path, *value;
        int rc;

        if (set[i])
            continue;
        if (asprintf(&path, "%s/%s", dir, table[i].key) < 0)
            return AGORA_ENOMEM;
        rc = conf_read_small(path, &value);
        if (rc == AGORA_ENOENT) {
            free(path);
            continue;
        }
        if (rc < 0) {
            snprintf(err, errlen, "config file %s: %s", path,
                     rc == AGORA_ETOOBIG ? "too large" : "unreadable");
            free(path);
            return AGORA_EINVAL;
        }
        rc = conf_set(&table[i], conf, value, path, err, errlen);
        free(path);
        free(value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Applies AGORA_<KEY> of every key not set by a flag. */
static int conf_apply_env(const conf_field *table, void *conf,
                          unsigned char *set, char *err, size_t errlen)
{
    size_t i, j;

    for (i = 0; table[i].key; i++) {
        char name[128];
        const char *value;
        int n;

        if (set[i])
            continue;
        n = snprintf(name, sizeof(name), "AGORA_%s", table[i].key);
        if (n < 0 || (size_t)n >= sizeof(name))
            continue;
        for (j = 6; name[j]; j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        value = getenv(name);
        if (value == NULL)
            continue;
        if (conf_set(&table[i], conf, value, name, err, errlen) < 0)
            return AGORA_EINVAL;
        set[i] = 1;
    }
    return 0;
}

/*
 * Splits "--name=value", "--name value"-less forms: "--name" alone means
 * true for a boolean, "--no-name" false. Returns the index of the next
 * argument, or -1 with err set.
 */
static int conf_apply_flag(const conf_field *table, void *conf, int argc,
                           char **argv, int i, unsigned char *set, char *err,
                           size_t errlen)
{
    const char *arg = argv[i] + 2, *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const conf_field *f = conf_find(table, arg, len);
    const char *value = eq ? eq + 1 : NULL;
    int negate = 0;

    if (f == NULL && !eq && strncmp(arg, "no-", 3) == 0) {
        f = conf_find(table, arg + 3, len - 3);
        negate = 1;
    }
    if (f == NULL) {
        snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)len,
                 arg);
        return -1;
    }
    if (value == NULL) {
        if (f->type == AGORA_CONF_BOOL) {
            value = negate ? "false" : "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "flag --%s needs a value", f->key);
            return -1;
        }
    }
    if (conf_set(f, conf, value, "flag", err, errlen) < 0)
        return -1;
    set[f - table] = 1;
    return i + 1;
}

/* The config directory: flag, then environment, then the caller's. */
static const char *conf_dir_choice(int argc, char **argv, const char *dflt)
{
    const char *env = getenv("AGORA_CONFIG_DIR");
    int i;

    for (i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config_dir=", 13) == 0)
            return argv[i] + 13;
        if (strcmp(argv[i], "--config_dir") == 0 && i + 1 < argc)
            return argv[i + 1];
    }
    return env ? env : dflt;
}

static int conf_is_config_dir_flag(char **argv, int i)
{
    return strncmp(argv[i], "--config_dir=", 13) == 0 ||
           strcmp(argv[i], "--config_dir") == 0;
}

int conf_parse(const conf_field *table, void *conf, int argc, char **argv,
               const char *config_dir, const char *prog, char *err,
               size_t errlen)
{
    unsigned char *set;
    size_t n = 0;
    int i, rc = 0;

    while (table[n].key)
        n++;
    set = calloc(n + 1, 1);
    if (set == NULL)
        return AGORA_ENOMEM;
    if (conf_defaults(table, conf, err, errlen) < 0) {
        free(set);
        return AGORA_EINVAL;
    }
    for (i = 1; i < argc && rc == 0;) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            conf_print_help(table, prog);
            free(set);
            return CONF_HELP;
        }
        if (conf_is_config_dir_flag(argv, i)) {
            i += strchr(argv[i], '=') ? 1 : 2;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)",
                     argv[i]);
            rc = AGORA_EINVAL;
            break;
        }
        i = conf_apply_flag(table, conf, argc, argv, i, set, err, errlen);
        if (i < 0)
            rc = AGORA_EINVAL;
    }
    if (rc == 0)
        rc = conf_apply_env(table, conf, set, err, errlen);
    config_dir = conf_dir_choice(argc, argv, config_dir);
    if (rc == 0 && config_dir)
        rc = conf_apply_dir(table, conf, config_dir, set, err, errlen);
    free(set);
    return rc;
}

static const char *conf_type_name(enum agora_conf_type t)
{
    switch (t) {
    case AGORA_CONF_STRING: return "VALUE";
    case AGORA_CONF_INT: return "INT";
    case AGORA_CONF_DOUBLE: return "NUMBER";
    case AGORA_CONF_BOOL: return "BOOL";
    case AGORA_CONF_DURATION: return "DURATION";
    }
    return "VALUE";
}

void conf_print_help(const conf_field *table, const char *prog)
{
    printf("Usage: %s [--flag=value ...]\n\n"
           "Each flag may also be given as the environment variable "
           "AGORA_<FLAG>\nor as a file <config_dir>/<flag> holding the "
           "value; a flag wins over\nthe environment, which wins over the "
           "file.\n\n"
           "  --config_dir=DIR\n      directory of one-file-per-flag "
           "values\n",
           prog);
    for (; table->key; table++) {
        char left[96];

        snprintf(left, sizeof(left), "--%s=%s", table->key,
                 conf_type_name(table->type));
        /* A key without a default says in its help what it falls back
         * to ("(default: the system's)"), or has none to show. */
        if (table->dflt && *table->dflt)
            printf("  %s\n      %s (default: %s)\n", left,
                   table->help ? table->help : "", table->dflt);
        else
            printf("  %s\n      %s\n", left, table->help ? table->help : "");
    }
}

int conf_resolve_file(char **value, char *err, size_t errlen)
{
    static const char scheme[] = "file://";
    char *v;
    int rc;

    if (*value == NULL || strncmp(*value, scheme, sizeof(scheme) - 1) != 0)
        return 0;
    rc = conf_read_small(*value + sizeof(scheme) - 1, &v);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", *value,
                 rc == AGORA_ENOENT ? "no such file" : agora_strerror(rc));
        return AGORA_EINVAL;
    }
    if (*v == '\0' || strchr(v, '\n') != NULL) {
        snprintf(err, errlen, "%s: want one line, the value", *value);
        free(v);
        return AGORA_EINVAL;
    }
    free(*value);
    *value = v;
    return 0;
}

void conf_write_json(const conf_field *table, const void *conf,
                     struct agora_jw *w)
{
    const conf_field *f;
    char buf[64];

    agora_jw_obj_open(w);
    for (f = table; f->key; f++) {
        const void *p = (const char *)conf + f->offset;

        agora_jw_key(w, f->key);
        switch (f->type) {
        case AGORA_CONF_STRING:
            agora_jw_str(w, *(const char *const *)p ? *(const char *const *)p
                                                    : "");
            continue;
        case AGORA_CONF_INT:
            snprintf(buf, sizeof(buf), "%lld", (long long)*(const int64_t *)p);
            break;
        case AGORA_CONF_BOOL:
            snprintf(buf, sizeof(buf), "%s",
                     *(const int *)p ? "true" : "false");
            break;
        case AGORA_CONF_DURATION:
            snprintf(buf, sizeof(buf), "%gsecs", *(const double *)p);
            break;
        default:
            snprintf(buf, sizeof(buf), "%g", *(const double *)p);
            break;
        }
        agora_jw_str(w, buf);
    }
    agora_jw_obj_close(w);
}
