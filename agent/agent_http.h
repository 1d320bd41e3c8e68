/*
 * agent_http.h - the agent's own HTTP API (agent_http.c), served on
 * --ip:--port in the shapes of the Mesos agent:
 *
 *   GET /health                       200 "ok"
 *   GET /state, /state.json           the agent, its frameworks and tasks
 *   GET /files/browse?path=           a sandbox directory's listing
 *   GET /files/read?path=&offset=&length=   a bounded piece of a file
 *   GET /files/download?path=         a whole file (bounded, see agent_http.c)
 *   GET /monitor/statistics[.json]    usage of each live task
 *   GET /metrics/snapshot             flat JSON of slave/... keys
 * and a few more listed in agent_http.c. The files endpoints only reach
 * <work_dir>/sandboxes (files.h says how).
 *
 * agent_start() calls agent_http_start() once the tasks are recovered and
 * before the master link starts; agent_stop() calls agent_http_stop()
 * before the exec layer and the journal go away.
 */
#ifndef AGORA_AGENT_HTTP_H
#define AGORA_AGENT_HTTP_H

struct agent;

/*
 * Mounts the routes on a->router and starts the server on
 * a->conf.ip:a->conf.port (bodies over a->conf.max_body_size get 413),
 * storing it in a->http. The handlers borrow a for as long as the server
 * runs. Returns 0, AGORA_EINVAL (a port outside 0..65535), AGORA_ENOMEM,
 * or AGORA_EIO when the port cannot be bound, with the reason logged; on
 * failure a->http is NULL and a->router is empty.
 */
int agent_http_start(struct agent *a);

/* Stops listening (deferred requests get 503) and frees what
 * agent_http_start() made. Safe to call when agent_http_start() failed
 * or was never called. */
void agent_http_stop(struct agent *a);

struct agora_jw;

/* "<work_dir>/sandboxes", the root the /files endpoints and the v1
 * file calls reach (files.h); malloc'ed, NULL when memory is short. */
char *agent_sandboxes_dir(const struct agent *a);

/* Writes the /metrics/snapshot object of a into w (GET_METRICS lists
 * the same keys). */
void agent_http_metrics(struct agora_jw *w, struct agent *a);

#endif /* AGORA_AGENT_HTTP_H */
