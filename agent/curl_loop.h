/*
 * curl_loop.h - libcurl's multi socket API driven by the agent's libev loop.
 *
 * One curl_loop holds one CURLM. libcurl tells it which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION: one ev_io each) and when to call back
 * (CURLMOPT_TIMERFUNCTION: one ev_timer); the loop hands readiness to
 * curl_multi_socket_action() and reports each finished transfer to the
 * callback given when it was added. No call here blocks.
 *
 * Reentrancy: libcurl forbids multi calls from inside its own callbacks
 * (write, header, read...). curl_loop_add() is safe anywhere: from such a
 * callback it is queued and done as soon as libcurl returns. Done
 * callbacks run outside libcurl, so they may add, remove and free
 * handles (but not the curl_loop itself).
 *
 * A handle's CURLOPT_PRIVATE belongs to the curl_loop while it is added.
 */
#ifndef AGORA_AGENT_CURL_LOOP_H
#define AGORA_AGENT_CURL_LOOP_H

#include <curl/curl.h>

struct ev_loop;
struct curl_loop;

/*
 * A transfer ended: result is CURLE_OK or the error (the HTTP status is
 * in CURLINFO_RESPONSE_CODE). The handle is already out of the multi:
 * the callback owns it again (reuse it or curl_easy_cleanup() it).
 */
typedef void (*curl_loop_done_fn)(void *arg, CURL *easy, CURLcode result);

/* A new curl_loop on loop, in *out. 0 or AGORA_ENOMEM. */
int curl_loop_new(struct ev_loop *loop, struct curl_loop **out);

/*
 * Starts the transfer `easy` (configured by the caller, who keeps owning
 * it); done(arg, ...) runs once on the loop when it ends, unless it is
 * removed first. Returns 0, AGORA_ENOMEM, or AGORA_EINVAL when libcurl
 * refuses the handle (already added, say).
 */
int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_fn done,
                  void *arg);

/*
 * Stops the transfer `easy` without calling its done callback; the caller
 * may free it right after. Must not be called from inside a libcurl
 * callback of any transfer (return an error from that callback instead:
 * the transfer then ends with it). Unknown handles are ignored.
 */
void curl_loop_remove(struct curl_loop *cl, CURL *easy);

/* Transfers in progress (for metrics and tests). */
size_t curl_loop_count(const struct curl_loop *cl);

/* Removes every transfer (no callbacks) and frees cl. NULL is a no-op. */
void curl_loop_free(struct curl_loop *cl);

#endif /* AGORA_AGENT_CURL_LOOP_H */
