/*
 * http_resolve.h - host names resolved off the loop, for the agent's
 * HTTP client (http_client.c).
 *
 * getaddrinfo() blocks (DNS can take seconds), so each lookup runs in a
 * short-lived detached thread of its own, with every signal blocked, and
 * tells the loop through an eventfd watched by an ev_io. The lookup's
 * memory is reference-counted between that thread and the loop: a
 * lookup cancelled while getaddrinfo() runs costs the loop nothing, and
 * whichever side finishes last frees it. (getaddrinfo_a() would do the
 * same with glibc's own threads, but its cancellation cannot stop a
 * running lookup either, and its completion arrives on yet another
 * thread.)
 */
#ifndef AGORA_HTTP_RESOLVE_H
#define AGORA_HTTP_RESOLVE_H

#include <stdint.h>

struct addrinfo;
struct ev_loop;
struct hc_lookup;

/* The lookup ended: gai is getaddrinfo()'s result, res its addresses
 * (borrowed for the call). The lookup is gone when this returns. */
typedef void (*hc_lookup_fn)(void *arg, int gai, const struct addrinfo *res);

/*
 * Resolves host (TCP, port) on a thread; done runs on loop. Returns 0
 * with *out, or an errno value (ENOMEM, EAGAIN: no thread) and then done
 * never runs.
 */
int hc_lookup_start(struct ev_loop *loop, const char *host, uint16_t port,
                    hc_lookup_fn done, void *arg, struct hc_lookup **out);

/* Stops waiting for lk: done never runs. Not from inside done. */
void hc_lookup_cancel(struct hc_lookup *lk);

#endif /* AGORA_HTTP_RESOLVE_H */
