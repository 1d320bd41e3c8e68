/*
 * sim_master.c - the masters: the table of those --master lists and
 * those redirects name, and zk mode's watch of their election.
 *
 * Agents and connections name a master by its index in the table. The
 * first entries are --master's list, in order; a redirect's target, or
 * a leader the watch reports, is added when first seen, resolved once.
 *
 * ZooKeeper: --master=zk://hosts/root, as agora-agent takes it. One
 * watch of the masters' election under root (agent/leader_watch.c, the
 * agent's own code) stands for every agent's: each real agent would hear
 * the same news at the same moment. Each report of a leader sends every
 * agent not on it there (sim_agent_follow), as agent/link.c's
 * link_on_leader does for one agent.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agora/sdk.h>

#include "leader_watch.h"
#include "sim.h"

struct sim_master {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[300]; /* "host:port": the Host header, and the key      */
};

static struct sim_master masters[SIM_MASTERS_MAX];
static int nmasters, nlisted;
/* zk mode: one watch of the election stands for every agent's own (each
 * would hear the same at the same moment); the leader's index in
 * masters[], -1 while none is known. */
static struct leader_watch *lwatch;
static int leader_mi = -1;

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

/*
 * Adds master "host:port" (hp, n bytes; the host may be a bracketed IPv6
 * address) to the table and returns its index, or -1 when the table is
 * full, the text is not host:port, or the host does not resolve. The
 * name is resolved here, blocking: --master at start, and redirect
 * targets, which masters write as their --ip (an address) and which are
 * resolved once each.
 */
static int master_add(const char *hp, size_t n)
{
    char host[256], port[16];
    const char *colon = n ? memrchr(hp, ':', n) : NULL, *h = hp;
    size_t hn, pn;
    struct addrinfo hints, *res;
    struct sim_master *mm = &masters[nmasters];

    if (nmasters == SIM_MASTERS_MAX || colon == NULL || n >= sizeof(mm->host))
        return -1;
    hn = (size_t)(colon - hp);
    pn = n - hn - 1;
    if (hn >= 2 && hp[0] == '[' && hp[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn == 0 || hn >= sizeof(host) || pn == 0 || pn >= sizeof(port))
        return -1;
    memcpy(host, h, hn);
    host[hn] = 0;
    memcpy(port, colon + 1, pn);
    port[pn] = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(&mm->addr, res->ai_addr, res->ai_addrlen);
    mm->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    memcpy(mm->host, hp, n);
    mm->host[n] = 0;
    return nmasters++;
}

int sim_master_lookup(const char *hp, size_t n)
{
    int i;

    for (i = 0; i < nmasters; i++)
        if (strncmp(masters[i].host, hp, n) == 0 && masters[i].host[n] == 0)
            return i;
    return master_add(hp, n);
}

void sim_master_parse(const char *list)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");

        if (n > 0 && master_add(p, n) < 0) {
            fprintf(stderr,
                    "simcluster: --master: cannot use '%.*s' (want "
                    "host:port, at most %d of them)\n",
                    (int)n, p, SIM_MASTERS_MAX);
            exit(2);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    nlisted = nmasters;
    if (nlisted == 0)
        sim_die("--master wants host:port[,host:port...]");
}

/* https:// is refused: agents speak plain HTTP. */
int sim_master_redirect(const char *head, const char *end, int from)
{
    const char *p, *v, *e, *slash;

    for (p = head; p && p < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL || strncasecmp(p + 1, "location:", 9) != 0)
            continue;
        v = p + 10;
        v += strspn(v, " \t");
        e = v + strcspn(v, "\r\n");
        if (v < e && *v == '/')
            return from;
        if (e - v < 8 || strncasecmp(v, "http://", 7) != 0)
            return -1;
        v += 7;
        slash = memchr(v, '/', (size_t)(e - v));
        return sim_master_lookup(v, (size_t)((slash ? slash : e) - v));
    }
    return -1;
}

int sim_master_connect(int mi)
{
    const struct sim_master *mm = &masters[mi];
    int fd = socket(mm->addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&mm->addr, mm->addrlen) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

const char *sim_master_host(int mi)
{
    return masters[mi].host;
}

int sim_master_listed(void)
{
    return nlisted;
}

/* ------------------------------------------------------------------ */
/* zk mode: following the election                                     */
/* ------------------------------------------------------------------ */

/* leader_watch_fn: the election's news, heard for every agent at once.
 * NULL (no leader known) stops nothing: attempts that fail from now on
 * wait for the next report. */
static void on_leader(void *arg, const char *master)
{
    long moved;
    int mi;

    (void)arg;
    sim_st.leader_reports++;
    sim_st.leader_at = ev_time();
    leader_mi = -1;
    if (master == NULL) {
        fprintf(stderr, "simcluster: t=%.3fs no leader known: waiting\n",
                sim_st.leader_at - sim_st.start);
        return;
    }
    if ((mi = sim_master_lookup(master, strlen(master))) < 0) {
        sim_error("the leader %s: unresolvable, or over %s masters seen",
                  master, "64");
        fprintf(stderr, "simcluster: %s\n", sim_st.last_error);
        return;
    }
    leader_mi = mi;
    moved = sim_agent_follow(mi);
    sim_st.leader_moves += (uint64_t)moved;
    fprintf(stderr,
            "simcluster: t=%.3fs the leader is %s: %ld agents go to it, "
            "%ld stay subscribed\n",
            sim_st.leader_at - sim_st.start, master, moved,
            sim_agent_nsubscribed());
    sim_agent_admit();
}

/* The watch reports to on_leader. */
void sim_master_watch_open(void)
{
    char err[512];
    int rc;

    err[0] = '\0';
    rc = leader_watch_open(sim_loop, sim_opt.master, on_leader, NULL, &lwatch,
                           err, sizeof(err));
    if (rc < 0) {
        if (err[0])
            fprintf(stderr, "simcluster: %s\n", err);
        else
            fprintf(stderr, "simcluster: cannot follow the election: %s\n",
                    agora_strerror(rc));
        exit(2);
    }
}

void sim_master_watch_close(void)
{
    leader_watch_close(lwatch);
}

int sim_master_zk(void)
{
    return lwatch != NULL;
}

int sim_master_leader(void)
{
    return leader_mi;
}
