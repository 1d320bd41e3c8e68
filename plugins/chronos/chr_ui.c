/*
 * chr_ui.c - chronos' web UI: ui/ compiled into chronos.so by
 * agora_embed(chronos chronos_ui ui) and answered by the SDK's
 * agora_static_serve() (ETags, gzip, the strict CSP).
 *
 * The page is the root: "/" on chronos' own port (where Chronos has its
 * UI on :4400) and "/chronos/" on the master's. Its files are below
 * "ui/" and its API calls go to "v1/scheduler/...", both relative, so
 * one set of files works under either root. Its views are told apart by
 * the URL's fragment (#/jobs/x), which never reaches the server, so no
 * page path can shadow a route of the API.
 */
#include <string.h>

#include <agora/sdk.h>
#include <agora/static.h>

#include "chronos.h"
#include "chr_ui.h"

#define CHR(st) ((struct chr *)(st))

extern const struct agora_static_table chronos_ui;

void chr_h_ui_index(void *st, struct agora_req *r)
{
    agora_static_serve(CHR(st)->api, r, &chronos_ui, NULL);
}

/* Only the files themselves: agora_static_serve() would answer an
 * unknown path without an extension with index.html, whose relative
 * URLs then resolve below ui/ and break. */
void chr_h_ui_file(void *st, struct agora_req *r)
{
    const struct agora_api *api = CHR(st)->api;
    const char *path = api->req_param(r, "path");
    const struct agora_static_file *f;

    f = path ? agora_static_find(&chronos_ui, path) : NULL;
    if (f == NULL || strcmp(f->path, "index.html") == 0) {
        agora_reply_error(api, r, 404, "no such file");
        return;
    }
    agora_static_serve(api, r, &chronos_ui, path);
}
