/*
 * minor0 - a plugin built against ABI 2.0, before 2.1 appended members
 * to the services table: a master of a newer minor must load it and
 * serve it. GET / answers what it saw: {"api_size", "has_subscribe"}.
 */
#include <stddef.h>
#include <stdio.h>

#include <agora/plugin.h>

static const struct agora_api *api;

static void get_root(void *state, struct agora_req *req)
{
    char body[96];
    int n;

    (void)state;
    n = snprintf(body, sizeof(body), "{\"api_size\":%u,\"has_subscribe\":%s}",
                 (unsigned)api->size,
                 offsetof(struct agora_api, subscribe) < api->size ? "true"
                                                                   : "false");
    api->reply(req, 200, NULL, body, (size_t)n);
}

static int minor0_init(struct agora_host *h, const struct agora_api *a,
                       const void *conf, void **state)
{
    (void)h;
    (void)conf;
    api = a;
    *state = NULL;
    return 0;
}

static void minor0_fini(void *state) { (void)state; }

static const struct agora_route routes[] = {
    {"GET", "/", get_root},
    {NULL, NULL, NULL},
};

static const struct agora_plugin minor0_plugin = {
    .abi_major = AGORA_ABI_MAJOR,
    .abi_minor = 0, /* as a plugin built against ABI 2.0 says */
    .size = (uint32_t)sizeof(struct agora_plugin),
    .name = "minor0",
    .version = "2.0",
    .description = "built against ABI 2.0",
    .routes = routes,
    .init = minor0_init,
    .fini = minor0_fini,
};

const struct agora_plugin *agora_plugin_entry(void) { return &minor0_plugin; }
