/*
 * initfail - a test plugin whose init fails (AGORA_EIO) after starting a
 * repeating timer. The master must refuse it ("init of plugin initfail
 * failed"), and release that timer before unloading the object: if it
 * fired afterwards it would jump into unmapped code.
 */
#include <stdlib.h>
#include <unistd.h>

#include <agora/plugin.h>

static const struct agora_api *initfail_api;

/* Must never run: the plugin was refused before its first tick. */
static void initfail_tick(void *arg, struct agora_timer *t)
{
    static const char msg[] = "initfail: timer fired after a failed init\n";

    (void)arg;
    (void)t;
    if (write(2, msg, sizeof(msg) - 1) < 0)
        abort();
    abort();
}

static int initfail_init(struct agora_host *h, const struct agora_api *api,
                         const void *conf, void **state)
{
    (void)conf;
    struct agora_timer *t;

    initfail_api = api;
    *state = NULL;
    /* Left running: the master must release it with the failed plugin. */
    (void)api->timer_start(h, 0.02, 0.02, initfail_tick, NULL, &t);
    return AGORA_EIO;
}

static void initfail_fini(void *state) { (void)state; }

static void initfail_get(void *state, struct agora_req *req)
{
    (void)state;
    initfail_api->reply(req, 200, "text/plain", "loaded", 6);
}

static const struct agora_route initfail_routes[] = {
    {"GET", "/", initfail_get},
    {NULL, NULL, NULL},
};

static const struct agora_plugin initfail_plugin = {
    AGORA_PLUGIN_INIT,
    .name = "initfail",
    .version = "1.0",
    .description = "always fails to start",
    .routes = initfail_routes,
    .init = initfail_init,
    .fini = initfail_fini,
};

const struct agora_plugin *agora_plugin_entry(void)
{
    return &initfail_plugin;
}
