/*
 * launcher_int.h - what the launcher process (launcher.c) and the
 * agent's side of it (launcher_agent.c) share: the messages.
 *
 * On a SOCK_SEQPACKET socket pair, one message each way a launch: the
 * agent sends a struct launcher_req_hdr then the meta file's path (no
 * NUL), with two fds (SCM_RIGHTS: the launch pipe's reading end, the
 * status pipe's writing end); the launcher answers a struct
 * launcher_reply with the same seq, and the shim's pidfd when pid > 0.
 * Requests are answered in the order they were sent; the seq checks it.
 */
#ifndef AGORA_AGENT_LAUNCHER_INT_H
#define AGORA_AGENT_LAUNCHER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The launcher's socket, as the status pipe is a shim's. */
#define LAUNCHER_FD 3

/* Bytes of room in the launcher's argv for a forked shim's argv
 * (`agora-shim --shim <meta_file>`): a meta file path longer than this
 * leaves the launcher's argv in place. */
#define LAUNCHER_ROOM 1024

/* Most fds a message carries (a request's two pipe ends). */
#define LAUNCHER_MSG_FDS 2

struct launcher_req_hdr {
    uint32_t seq;
};

struct launcher_reply {
    uint32_t seq; /* the request's */
    int32_t pid;  /* the shim's, or -1 */
    int32_t err;  /* errno value when pid is -1 */
};

/* Sends len bytes with nfds fds (SCM_RIGHTS; none when 0), flags as
 * sendmsg()'s (MSG_NOSIGNAL always). Returns the bytes sent, or -1 with
 * errno. */
ssize_t launcher_msg_send(int sock, const void *buf, size_t len, const int *fds,
                          size_t nfds, int flags);

/* Receives one message into buf (len bytes at most) and up to nfds fds
 * (close-on-exec; -1 where none came; any more are closed), flags as
 * recvmsg()'s. Returns the bytes received (0: the peer is gone), or -1
 * with errno; *cut is set when the message or its fds were cut. */
ssize_t launcher_msg_recv(int sock, void *buf, size_t len, int *fds,
                          size_t nfds, int flags, int *cut);

#endif
