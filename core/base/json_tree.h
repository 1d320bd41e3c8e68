/*
 * json_tree.h - a parsed JSON value written back as JSON text, without
 * recursion: what passes a tree through (an agent's report of a task's
 * container, kept as text by the master).
 */
#ifndef AGORA_JSON_TREE_H
#define AGORA_JSON_TREE_H

#include <agora/json.h>

/* The deepest value json_tree_write() takes. */
#define JSON_TREE_DEPTH 64

/* Writes v into w. 0, or -1 when v nests deeper than JSON_TREE_DEPTH
 * (w then holds a partial value: drop it). */
int json_tree_write(struct agora_jw *w, yajl_val v);

/* v as JSON text (malloc'ed), or NULL (too deep, out of memory). */
char *json_tree_text(yajl_val v);

#endif /* AGORA_JSON_TREE_H */
