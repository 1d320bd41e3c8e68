/*
 * abi1 - a plugin built against ABI 1, the layout before timer_start and
 * stream_open returned an error code: the master of ABI 2 must refuse it
 * with a log line naming both versions, never call into it. The
 * descriptor is ABI 1's, field by field.
 */
#include <stddef.h>
#include <stdint.h>

struct abi1_plugin {
    uint32_t abi_major, abi_minor, size;
    const char *name, *version, *description;
    const void *conf;
    size_t conf_size;
    const void *routes;
    int (*init)(void *h, const void *api, const void *conf, void **state);
    void (*fini)(void *state);
    void *on_offer, *on_status, *on_leader, *on_rescind;
    uintptr_t reserved[8];
};

static int abi1_init(void *h, const void *api, const void *conf,
                     void **state)
{
    (void)h;
    (void)api;
    (void)conf;
    *state = NULL;
    return 0;
}

static void abi1_fini(void *state) { (void)state; }

static const struct abi1_plugin abi1_plugin = {
    .abi_major = 1,
    .abi_minor = 0,
    .size = sizeof(struct abi1_plugin),
    .name = "abi1",
    .version = "0.8",
    .description = "built against ABI 1.0",
    .init = abi1_init,
    .fini = abi1_fini,
};

__attribute__((visibility("default"))) const void *agora_plugin_entry(void);
const void *agora_plugin_entry(void) { return &abi1_plugin; }
