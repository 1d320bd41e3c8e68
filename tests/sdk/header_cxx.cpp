// header_cxx.cpp - the SDK's public headers compile as C++, and a plugin
// written in C++ can fill the descriptor.
#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

namespace {

int init(agora_host *, const agora_api *, const void *, void **state)
{
    *state = nullptr;
    return 0;
}

void fini(void *) {}

const agora_plugin desc = {
    AGORA_PLUGIN_HEADER, "cxx_plugin", "1.0", "written in C++",
    nullptr, 0, nullptr, init, fini, nullptr, nullptr, nullptr, nullptr, {0},
};

} // namespace

extern "C" const agora_plugin *agora_plugin_entry(void) { return &desc; }
