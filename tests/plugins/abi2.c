/*
 * abi2 - a test plugin whose descriptor claims ABI major 2: the master
 * (ABI 1.x) must refuse it with a log line naming both versions.
 */
#include <agora/plugin.h>

static int abi2_init(struct agora_host *h, const struct agora_api *api,
                     const void *conf, void **state)
{
    (void)h;
    (void)api;
    (void)conf;
    *state = NULL;
    return 0;
}

static void abi2_fini(void *state) { (void)state; }

static const struct agora_plugin abi2_plugin = {
    2, /* abi_major: one more than any master of ABI 1 speaks */
    AGORA_ABI_MINOR,
    (uint32_t)sizeof(struct agora_plugin),
    "abi2",
    "0.9",
    "claims ABI 2.x",
    NULL,
    0,
    NULL,
    abi2_init,
    abi2_fini,
    NULL,
    NULL,
    NULL,
    NULL,
    {0},
};

const struct agora_plugin *agora_plugin_entry(void) { return &abi2_plugin; }
