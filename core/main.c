/*
 * main.c - agora-master: parse the flags, run the loop, stop cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#include "dirlock.h"
#include "log.h"
#include "master.h"

/* Many agents and clients mean many sockets: use the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct master_conf conf;
    struct master m;
    struct ev_loop *loop;
    char err[512];
    int rc, lock_fd;

    memset(&conf, 0, sizeof(conf));
    rc = conf_parse(master_flags, &conf, argc, argv, "/etc/agora/master",
                    "agora-master", err, sizeof(err));
    if (rc == CONF_HELP) {
        conf_release(master_flags, &conf);
        return 0;
    }
    if (rc == 0)
        rc = conf_resolve_file(&conf.zk, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "agora-master: %s\n", err);
        conf_release(master_flags, &conf);
        return 2;
    }
    /* Two masters on one work_dir would write one store: the second
     * stops here, naming the first. */
    lock_fd = dirlock_take(conf.work_dir, "agora-master", err, sizeof(err));
    if (lock_fd < 0) {
        log_error("master", "%s", err);
        conf_release(master_flags, &conf);
        return 1;
    }
    raise_fd_limit();
    loop = ev_default_loop(EVFLAG_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "agora-master: cannot create the event loop\n");
        return 1;
    }
    rc = master_start(&m, loop, &conf);
    if (rc == 0)
        ev_run(loop, 0);
    master_stop(&m);
    ev_loop_destroy(loop);
    close(lock_fd);
    return rc == 0 ? 0 : 1;
}
