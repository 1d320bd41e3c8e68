/*
 * noentry - a valid shared object that does not export
 * agora_plugin_entry (a typo of it instead): the master must refuse it
 * with "no entry symbol".
 */
#include <agora/plugin.h>

AGORA_EXPORT int agora_plugin_entri(void);

int agora_plugin_entri(void) { return AGORA_ABI_MAJOR; }
