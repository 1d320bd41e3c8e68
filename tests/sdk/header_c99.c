/*
 * header_c99.c - the SDK's public headers compile as strict C99, and
 * the smallest plugin of docs/plugin-guide.md builds as written.
 */
#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>
#include <agora/static.h>

static const struct agora_api *api;

static void ping(void *state, struct agora_req *req)
{
    (void)state;
    api->reply(req, 200, "text/plain", "pong", 4);
}

static int init(struct agora_host *h, const struct agora_api *a,
                const void *conf, void **state)
{
    (void)h;
    (void)conf;
    api = a;
    *state = NULL;
    return 0;
}

static void fini(void *state) { (void)state; }

static const struct agora_route routes[] = {
    {"GET", "/ping", ping},
    {NULL, NULL, NULL},
};

static const struct agora_plugin desc = {
    AGORA_PLUGIN_INIT,
    .name = "pinger",
    .version = "1.0",
    .description = "answers pong",
    .routes = routes,
    .init = init,
    .fini = fini,
};

const struct agora_plugin *agora_plugin_entry(void) { return &desc; }
