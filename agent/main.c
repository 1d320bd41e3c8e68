/*
 * main.c - agora-agent: the flags, the loop, a clean stop.
 *
 * `agora-agent --shim <meta_file>` is the per-task shim of the exec layer,
 * not the agent: it is dispatched before anything else.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#include "agent.h"
#include "dirlock.h"
#include "log.h"
#include "exec.h"

#define F(name, type, dflt, help)                                              \
    {                                                                          \
#name, AGORA_CONF_##type, dflt, offsetof(struct agent_conf, name),     \
            help                                                               \
    }

const conf_field agent_flags[] = {
    F(master, STRING, "",
      "the master: host:port, a comma list of them (each tried in turn), "
      "or zk://host:port[,host:port]/path to follow the masters' "
      "ZooKeeper election; file:///path reads it from a file. Required"),
    F(ip, STRING, "0.0.0.0",
      "address the agent's HTTP API listens on; with 0.0.0.0 (all, as "
      "Mesos) the first non-loopback IPv4 address is advertised"),
    F(port, INT, "5051", "port of the agent's HTTP API"),
    F(hostname, STRING, "",
      "host name advertised to the master "
      "(default: the system's)"),
    F(work_dir, STRING, "/var/lib/agora/agent",
      "checkpoints (meta/) and task sandboxes (sandboxes/)"),
    F(resources, STRING, "",
      "resources offered, e.g. cpus:4;mem:2048;disk:10000;"
      "ports:[31000-32000] or cpus(role):2; names not given are detected"),
    F(attributes, STRING, "", "attributes, e.g. rack:r1;zone:a"),
    F(isolation, STRING, "", "cgroups or posix; empty for the best available"),
    F(recover, STRING, "reconnect",
      "after a restart: reconnect to running tasks, or cleanup (kill them)"),
    F(cgroups_root, STRING, "agora",
      "name of agora's cgroup under each hierarchy"),
    F(cgroups_enable_cfs, BOOL, "false",
      "hard CPU limits: a task's cpus also become a CFS quota (as Mesos' "
      "flag); false: cpus weigh the task's share of contended CPU only"),
    F(log_level, STRING, "info", "debug, info, warn or error"),
    F(registration_backoff_max, DURATION, "60secs",
      "longest wait between two subscription attempts"),
    F(max_body_size, INT, "1048576",
      "largest request body the agent's HTTP API accepts (bytes)"),
    F(ssl_cert_file, STRING, "",
      "HTTPS of the agent's API: its certificate (PEM, chain first)"),
    F(ssl_key_file, STRING, "",
      "HTTPS: the certificate's key (PEM; not readable by every user)"),
    F(ssl_ca_file, STRING, "",
      "HTTPS: the CA (PEM) whose certificates clients may show"),
    F(ssl_require_client_cert, BOOL, "false",
      "HTTPS: requests without a client certificate the --ssl_ca_file CA "
      "signed get 403 (mutual TLS)"),
    F(credential, STRING, "",
      "file of this agent's principal and secret, sent to the master: "
      "{\"principal\", \"secret\"} or `principal secret`; not readable "
      "by every user"),
    F(switch_user, BOOL, "true",
      "run each task as the user it names (the agent must be root); "
      "false: every task runs as the agent's user"),
    F(default_user, STRING, "",
      "the user of a task that names none when users are switched "
      "(default: nobody when the agent runs as root, else the agent's "
      "own user)"),
    F(fetcher_cache_dir, STRING, "",
      "where agora-fetcher keeps the URIs tasks fetch with cache: true, "
      "a directory per user (default: <work_dir>/fetch_cache)"),
    F(fetcher_cache_size, INT, "2147483648",
      "bytes each user's fetcher cache keeps; the least recently used "
      "entries are evicted past it"),
    F(fetcher_max_size, INT, "4294967296",
      "largest URI a task may fetch (bytes)"),
    F(fetcher_max_total, INT, "8589934592",
      "most bytes a task's fetch may write: its URIs and what they "
      "unpack to"),
    F(fetcher_stall_timeout, DURATION, "60secs",
      "a download that moves no byte this long fails the task"),
    F(allowed_volume_paths, STRING, "",
      "host directories (colon-separated absolute paths) a container "
      "task's volumes may bind, with what is under them; empty: none "
      "(a relative hostPath, a directory in the sandbox, is always "
      "allowed)"),
    /* Images (issue 16): the registry pulls of agora-fetcher. */
    F(docker_registry, STRING, "https://registry-1.docker.io",
      "the registry of image names without a host (http:// or https://), "
      "or a directory of <name>:<tag>.tar docker-archives (Mesos' local "
      "registry); a reference naming this host uses its scheme"),
    F(docker_config, STRING, "",
      "a docker config.json whose \"auths\" give registry credentials "
      "(Basic, or for a Bearer token); not readable by every user"),
    F(docker_registry_ca_file, STRING, "",
      "a CA (PEM) registries' TLS certificates are checked against "
      "instead of the system's (a self-signed registry)"),
    F(image_max_bytes, INT, "8589934592",
      "most bytes an image may unpack to"),
    F(image_gc_interval, DURATION, "1hrs",
      "how often images no live task uses are collected; 0 turns it off"),
    F(image_gc_max_bytes, INT, "10737418240",
      "unused images are removed, least recently used first, until the "
      "store holds at most this many bytes (0: every unused image)"),
    F(containerizers, STRING, "",
      "the containerizers, a comma list of mesos and docker; empty (the "
      "default): mesos, plus docker where `docker version` reaches an "
      "engine at start. With docker, container.type DOCKER runs through "
      "the docker CLI (else under mesos)"),
    F(docker, STRING, "docker", "the docker CLI (a path, or a name in PATH)"),
    F(network_bridge, STRING, "agora0",
      "the bridge BRIDGE-networked tasks are attached to (created when "
      "missing)"),
    F(network_cidr, STRING, "172.31.0.0/16",
      "the subnet of BRIDGE-networked tasks: the bridge takes its first "
      "address, tasks the next free ones; outbound traffic is NATed"),
    {NULL, 0, NULL, 0, NULL},
};

#undef F

/* Every task's shim holds descriptors of ours: use the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run(struct agent_conf *conf)
{
    struct ev_loop *loop;
    struct agent a;
    int rc;

    /* libev's ev_child watchers (the exec layer) need the default loop. */
    loop = ev_default_loop(EVFLAG_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "agora-agent: cannot create the event loop\n");
        return 1;
    }
    rc = agent_start(&a, loop, conf);
    if (rc == 0)
        ev_run(loop, 0);
    agent_stop(&a);
    ev_loop_destroy(loop);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct agent_conf conf;
    char err[512];
    int rc, lock_fd;

    if (argc > 1 && strcmp(argv[1], "--shim") == 0)
        return shim_main(argc, argv);
    memset(&conf, 0, sizeof(conf));
    rc = conf_parse(agent_flags, &conf, argc, argv, "/etc/agora/agent",
                    "agora-agent", err, sizeof(err));
    if (rc == CONF_HELP) {
        conf_release(agent_flags, &conf);
        return 0;
    }
    if (rc == 0)
        rc = conf_resolve_file(&conf.master, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "agora-agent: %s\n", err);
        conf_release(agent_flags, &conf);
        return 2;
    }
    if (conf.master == NULL || conf.master[0] == '\0') {
        fprintf(stderr, "agora-agent: --master is required (see --help)\n");
        conf_release(agent_flags, &conf);
        return 2;
    }
    /* Two agents on one work_dir would run every task twice: the second
     * stops here, naming the first. */
    if (conf.work_dir == NULL || conf.work_dir[0] != '/') {
        fprintf(stderr, "agora-agent: --work_dir must be an absolute path\n");
        conf_release(agent_flags, &conf);
        return 2;
    }
    if (agent_containers_check(&conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "agora-agent: %s\n", err);
        conf_release(agent_flags, &conf);
        return 2;
    }
    lock_fd = dirlock_take(conf.work_dir, "agora-agent", err, sizeof(err));
    if (lock_fd < 0) {
        log_error("agent", "%s", err);
        conf_release(agent_flags, &conf);
        return 1;
    }
    raise_fd_limit();
    rc = run(&conf);
    close(lock_fd);
    return rc;
}
