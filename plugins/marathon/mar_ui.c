/*
 * mar_ui.c - marathon's web UI: ui/ compiled into marathon.so by
 * agora_embed(marathon marathon_ui ui) and answered by the SDK's
 * agora_static_serve() (ETags, gzip, the strict CSP).
 *
 * The page is the root, as Marathon's is on :8080: "/" on marathon's
 * own port and "/marathon/" on the master's. Its files are below "ui/"
 * and its API calls go to "v2/...", both relative, so one set of files
 * works under either root. Its views are told apart by the URL's
 * fragment (#/apps/x), which never reaches the server: no route of the
 * API can be shadowed by a page path, and an unknown path stays a 404.
 */
#include <string.h>

#include <agora/sdk.h>
#include <agora/static.h>

#include "marathon.h"
#include "mar_ui.h"

#define MAR(st) ((struct mar *)(st))

extern const struct agora_static_table marathon_ui;

void mar_h_ui_index(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);

    agora_static_serve(m->api, r, &marathon_ui, NULL);
}

/* Only the files themselves: agora_static_serve() would answer an
 * unknown path without an extension with index.html, whose relative
 * URLs then resolve below ui/ and break. */
void mar_h_ui_file(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *path = m->api->req_param(r, "path");
    const struct agora_static_file *f;

    f = path ? agora_static_find(&marathon_ui, path) : NULL;
    if (f == NULL || strcmp(f->path, "index.html") == 0) {
        agora_reply_error(m->api, r, 404, "no such file");
        return;
    }
    agora_static_serve(m->api, r, &marathon_ui, path);
}
