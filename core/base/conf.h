/*
 * conf.h - configuration from a table of typed keys.
 *
 * A daemon describes its flags once, as a table (name, type, default,
 * offset into its conf struct, help). The same table drives parsing,
 * validation and --help, as nginx's directives and fluent-bit's config
 * maps do. Values come, in order of precedence, from
 *     --name=value on the command line,
 *     the environment variable AGORA_<NAME>,
 *     a file <config_dir>/<name> holding the value (as the Mesos packages
 *     keep /etc/mesos-master/quorum),
 *     the default in the table.
 * The plugin conf files (key = value) use the same value syntax.
 */
#ifndef AGORA_CONF_H
#define AGORA_CONF_H

#include <stddef.h>

#include <agora/plugin.h>

/* The table's row type is the SDK's, so plugins and the core share it. */
typedef struct agora_conf_field conf_field;

/* Returned by conf_parse() when --help was given (help already printed). */
#define CONF_HELP 1

/*
 * Parses one value of the given type from text into dst (a const char *
 * for strings, malloc'ed, freeing any previous one; int64_t; double; int).
 * Returns 0 or AGORA_EINVAL with a reason in err.
 */
int conf_value_parse(enum agora_conf_type type, const char *text, void *dst,
                     char *err, size_t errlen);

/*
 * Parses a duration: a number followed by ns, us, ms, s/secs, m/mins,
 * h/hrs, d/days or weeks (Mesos' units); a bare number is seconds.
 * Returns 0 with *secs set, or AGORA_EINVAL.
 */
int conf_duration_parse(const char *text, double *secs);

/*
 * Fills conf (described by the table, ended by key == NULL) from argv,
 * the environment and config_dir (NULL to skip files; the flag
 * --config_dir and AGORA_CONFIG_DIR override it). Returns 0, CONF_HELP
 * after printing the help for `prog`, or AGORA_EINVAL with a one-line
 * reason in err. Strings in conf are malloc'ed: free with conf_release().
 */
int conf_parse(const conf_field *table, void *conf, int argc, char **argv,
               const char *config_dir, const char *prog, char *err,
               size_t errlen);

/* Writes the defaults of every key into conf. */
int conf_defaults(const conf_field *table, void *conf, char *err,
                  size_t errlen);

/* Frees the strings conf_parse() stored in conf. */
void conf_release(const conf_field *table, void *conf);

/* Writes conf as Mesos' /flags does: one object, every value a string
 * ("10secs" for a duration). */
struct agora_jw;
void conf_write_json(const conf_field *table, const void *conf,
                     struct agora_jw *w);

/* Prints the table: one flag a line, with its default and help. */
void conf_print_help(const conf_field *table, const char *prog);

/* Trims leading and trailing white space in place; returns s. */
char *conf_trim(char *s);

/*
 * Mesos' file:///path form of a flag (--zk, --master): the value is
 * then the file's content, trimmed, as /etc/mesos/zk holds it. *value
 * (malloc'ed, as conf_parse() stores strings) is replaced in place; any
 * other value is left alone. 0, or an agora_err with a reason in err.
 */
int conf_resolve_file(char **value, char *err, size_t errlen);

#endif /* AGORA_CONF_H */
