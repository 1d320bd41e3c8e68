/*
 * mar_ui.h - marathon's web UI (ui/, embedded by agora_embed()).
 */
#ifndef MAR_UI_H
#define MAR_UI_H

#include <agora/plugin.h>

/* GET /: the page (index.html). */
void mar_h_ui_index(void *st, struct agora_req *r);

/* GET /ui/{path}: the page's scripts and style, exactly; 404 otherwise. */
void mar_h_ui_file(void *st, struct agora_req *r);

#endif /* MAR_UI_H */
