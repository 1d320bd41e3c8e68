/*
 * resources.c - what the agent offers: --resources, completed by what
 * the host has (as Mesos' agent detects it), and --attributes.
 *
 * Detection follows Mesos (src/slave/containerizer/containerizer.cpp):
 *   cpus  the online CPUs;
 *   mem   MemTotal less 1 GB when it is at least 2 GB, else half of it;
 *   disk  the size of the file system of --work_dir less 5 GB when it is
 *         at least 10 GB, else half of it;
 *   ports [31000-32000].
 * A name given in --resources (for any role) is not detected. Runs at
 * startup, before the loop: reading /proc and statvfs() is fine there.
 */
#include "agent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <agora/resources.h>

#include "log.h"

#define MB (1024.0 * 1024.0)

/* MemTotal of /proc/meminfo in MB, or 0 when unreadable. */
static double resources_mem_total(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    double kb = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemTotal: %lf kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb / 1024.0;
}

static double resources_mem(void)
{
    double total = resources_mem_total();

    return total >= 2048 ? total - 1024 : total / 2;
}

static double resources_disk(const char *dir)
{
    struct statvfs sv;
    double total;

    if (statvfs(dir, &sv) < 0)
        return 0;
    total = (double)sv.f_blocks * (double)sv.f_frsize / MB;
    return total >= 10240 ? total - 5120 : total / 2;
}

static int resources_has(const struct agora_resources *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (strcmp(r->v[i].name, name) == 0)
            return 1;
    return 0;
}

/* "cpus:N;mem:M;..." for the standard names that r lacks. */
static int resources_defaults(const struct agora_resources *r,
                              const char *work_dir, char *out, size_t len)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t used = 0;

    out[0] = '\0';
    if (!resources_has(r, "cpus"))
        used += (size_t)snprintf(out + used, len - used, "cpus:%ld;",
                                 cpus > 0 ? cpus : 1);
    if (!resources_has(r, "mem"))
        used += (size_t)snprintf(out + used, len - used, "mem:%.0f;",
                                 resources_mem());
    if (!resources_has(r, "disk"))
        used += (size_t)snprintf(out + used, len - used, "disk:%.0f;",
                                 resources_disk(work_dir));
    if (!resources_has(r, "ports"))
        used +=
            (size_t)snprintf(out + used, len - used, "ports:[31000-32000];");
    if (used >= len)
        return AGORA_ENOMEM;
    if (used > 0)
        out[used - 1] = '\0'; /* the last ';' */
    return 0;
}

static int resources_detect(struct agent *a)
{
    struct agora_resources given = {NULL, 0}, found = {NULL, 0};
    char dflt[256], err[256];
    const char *text = a->conf.resources ? a->conf.resources : "";
    int rc;

    rc = agora_resources_parse(text, &given, err, sizeof(err));
    if (rc < 0) {
        log_error("agent", "--resources: %s", err);
        return AGORA_EINVAL;
    }
    rc = resources_defaults(&given, a->conf.work_dir, dflt, sizeof(dflt));
    if (rc == 0 && dflt[0])
        rc = agora_resources_parse(dflt, &found, err, sizeof(err));
    if (rc == 0)
        rc = agora_resources_add(&given, &found);
    agora_resources_free(&found);
    if (rc < 0) {
        log_error("agent", "cannot detect resources: %s", dflt);
        agora_resources_free(&given);
        return rc;
    }
    a->total = given;
    return 0;
}

void agent_attrs_free(struct agent_attr *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

/* Adds one "key:value" (trimmed in place) to *v. */
static int attrs_add(char *item, struct agent_attr **v, size_t *n, char *err,
                     size_t errlen)
{
    char *colon = strchr(item, ':'), *key, *value;
    struct agent_attr *nv;
    size_t i;

    if (colon == NULL) {
        snprintf(err, errlen, "'%s' is not key:value", item);
        return AGORA_EINVAL;
    }
    *colon = '\0';
    key = conf_trim(item);
    value = conf_trim(colon + 1);
    if (*key == '\0' || *value == '\0') {
        snprintf(err, errlen, "'%s:%s' has an empty key or value", key, value);
        return AGORA_EINVAL;
    }
    for (i = 0; i < *n; i++) {
        if (strcmp((*v)[i].key, key) == 0) {
            snprintf(err, errlen, "attribute '%s' is given twice", key);
            return AGORA_EINVAL;
        }
    }
    nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (nv == NULL)
        return AGORA_ENOMEM;
    *v = nv;
    nv[*n].key = strdup(key);
    nv[*n].value = strdup(value);
    (*n)++;
    if (nv[*n - 1].key == NULL || nv[*n - 1].value == NULL)
        return AGORA_ENOMEM;
    return 0;
}

int agent_attrs_parse(const char *text, struct agent_attr **out, size_t *n,
                      char *err, size_t errlen)
{
    char *copy = strdup(text ? text : ""), *save = NULL, *item;
    struct agent_attr *v = NULL;
    size_t count = 0;
    int rc = 0;

    if (copy == NULL)
        return AGORA_ENOMEM;
    for (item = strtok_r(copy, ";", &save); item && rc == 0;
         item = strtok_r(NULL, ";", &save)) {
        if (*conf_trim(item) == '\0')
            continue;
        rc = attrs_add(item, &v, &count, err, errlen);
    }
    free(copy);
    if (rc < 0) {
        if (rc == AGORA_ENOMEM)
            snprintf(err, errlen, "out of memory");
        agent_attrs_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return 0;
}

int agent_resources_init(struct agent *a)
{
    char err[512];
    int rc = resources_detect(a);

    if (rc < 0)
        return rc;
    rc = agent_attrs_parse(a->conf.attributes, &a->attrs, &a->nattrs, err,
                           sizeof(err));
    if (rc < 0) {
        log_error("agent", "--attributes: %s", err);
        return rc;
    }
    return 0;
}
