/*
 * abi2 - a test plugin whose descriptor claims the next ABI major: the
 * master must refuse it with a log line naming both versions.
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
    .abi_major = AGORA_ABI_MAJOR + 1, /* one more than this master speaks */
    .abi_minor = AGORA_ABI_MINOR,
    .size = (uint32_t)sizeof(struct agora_plugin),
    .name = "abi2",
    .version = "0.9",
    .description = "claims the next ABI major",
    .init = abi2_init,
    .fini = abi2_fini,
};

const struct agora_plugin *agora_plugin_entry(void) { return &abi2_plugin; }
