// header_cxx.cpp - the SDK's public headers compile as C++11, and a
// plugin written in C++ fills its descriptor by assignment, as the plugin
// guide says (designated initializers came only with C++20).
#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>
#include <agora/static.h>

namespace {

int init(agora_host *, const agora_api *, const void *, void **state)
{
    *state = nullptr;
    return 0;
}

void fini(void *) {}

agora_plugin desc;

} // namespace

extern "C" const agora_plugin *agora_plugin_entry(void)
{
    if (desc.abi_major == 0) {
        desc.abi_major = AGORA_ABI_MAJOR;
        desc.abi_minor = AGORA_ABI_MINOR;
        desc.size = sizeof(agora_plugin);
        desc.name = "cxx_plugin";
        desc.version = "1.0";
        desc.description = "written in C++";
        desc.init = init;
        desc.fini = fini;
    }
    return &desc;
}
