/*
 * chr_ui.h - chronos' web UI (ui/, embedded by agora_embed()) and the
 * one endpoint it adds to Chronos' API, the next runs of a schedule.
 */
#ifndef CHR_UI_H
#define CHR_UI_H

#include <agora/plugin.h>

/* GET /: the page (index.html). */
void chr_h_ui_index(void *st, struct agora_req *r);

/* GET /ui/{path}: the page's scripts and style, exactly; 404 otherwise. */
void chr_h_ui_file(void *st, struct agora_req *r);

/* GET /v1/scheduler/next?schedule=S[&timezone=Z][&count=N]: the next N
 * (default 5, at most 50) instants S fires at after now, read in zone Z,
 * as the scheduler computes them: {"schedule", "timezone", "next":
 * ["2026-12-07T04:30:00.000Z", ...]}. 400 {"message"} when S or Z does
 * not parse (the message a job with them would get). chr_next.c. */
void chr_h_next(void *st, struct agora_req *r);

#endif /* CHR_UI_H */
