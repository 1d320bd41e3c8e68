/*
 * agent_containers.c - the agent's side of containers that is not the
 * exec layer's: its flags (--containerizers, --docker, --network_bridge,
 * --network_cidr), the docker probe at start, and the sweep of BRIDGE
 * networks whose tasks are gone (exec/net.h, exec/docker.h).
 *
 * The probe is a child the loop watches; until it answers, and when it
 * fails, the agent has no docker containerizer (container.type DOCKER
 * then runs under the mesos one, docs/containers.md §1). The sweep runs
 * before the loop serves anything, once, and only touches addresses
 * whose task the agent does not know or knows as ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/sdk.h>

#include "agent.h"
#include "docker.h"
#include "exec.h"
#include "task.h"
#include "log.h"
#include "net.h"

/* 1 when list (a comma list) names word. */
static int list_has(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;

    while (p != NULL && *p) {
        if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    return 0;
}

int agent_containers_check(const struct agent_conf *c, char *err,
                           size_t errlen)
{
    const char *p = c->containerizers ? c->containerizers : "mesos";
    struct net_conf net;
    size_t n;

    while (*p) {
        n = strcspn(p, ",");
        if (!((n == 5 && strncmp(p, "mesos", 5) == 0) ||
              (n == 6 && strncmp(p, "docker", 6) == 0))) {
            snprintf(err, errlen, "--containerizers: %.*s is not mesos or "
                                  "docker", (int)n, p);
            return -1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (c->docker == NULL || c->docker[0] == '\0' || c->docker[0] == '-') {
        snprintf(err, errlen, "--docker: not a program");
        return -1;
    }
    return net_conf_init(&net, c->network_bridge, c->network_cidr,
                         c->work_dir, err, errlen);
}

static void on_probe(void *arg, int ok, const char *detail)
{
    struct agent *a = arg;

    if (!ok) {
        /* Asked for by name, its absence is worth a warning; by default,
         * most machines have no engine. */
        log_msg(a->docker_auto ? AGORA_LOG_INFO : AGORA_LOG_WARN, "agent",
                "docker is unavailable (%s): container.type DOCKER runs "
                "under the mesos containerizer",
                detail);
        return;
    }
    free(a->docker_version);
    a->docker_version = strdup(detail);
    a->docker_ready = a->docker_version != NULL;
    log_info("agent", "docker containerizer: engine %s (%s)", detail,
             a->conf.docker);
    /* From now on, container.type DOCKER runs through the CLI. */
    if (a->docker_ready && a->exec_ready)
        exec_set_docker(a->exec, a->conf.docker);
}

static int task_alive(void *arg, const char *task_id)
{
    struct agent *a = arg;
    struct agent_task *t = map_get(&a->tasks, task_id);

    return t != NULL && !agora_task_state_terminal(t->state);
}

void agent_containers_start(struct agent *a)
{
    struct docker_probe *p = NULL;
    struct net_conf net;
    char err[256];
    int n;

    if (net_conf_init(&net, a->conf.network_bridge, a->conf.network_cidr,
                      a->conf.work_dir, err, sizeof(err)) == 0) {
        n = net_bridge_sweep(&net, task_alive, a);
        if (n > 0)
            log_info("agent", "network: undid %d BRIDGE network(s) of "
                              "tasks gone", n);
        else if (n < 0)
            log_warn("agent", "network: cannot read %s", net.state_dir);
    }
    /* Empty: docker too, where an engine answers (the default). */
    a->docker_auto = !a->conf.containerizers || !*a->conf.containerizers;
    if (!a->docker_auto && !list_has(a->conf.containerizers, "docker"))
        return;
    /* The struct stays, done or not, until agent_containers_stop(). */
    if (docker_probe_start(&p, a->loop, a->conf.docker, on_probe, a) == 0)
        a->docker_probe = p;
}

void agent_containers_stop(struct agent *a)
{
    /* Running or done, the probe's struct is freed here (a running one
     * is killed and reaped first). */
    docker_probe_free(a->docker_probe);
    a->docker_probe = NULL;
    free(a->docker_version);
    a->docker_version = NULL;
    a->docker_ready = 0;
}
