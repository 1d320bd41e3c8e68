/*
 * json_scan.h - plain JSON read in one pass without yajl's lexer, feeding
 * yajl's callbacks, for the bodies the master reads most (the agents'
 * updates POSTs, agent_update.c).
 *
 * It takes a strict subset of what yajl takes and hands the callbacks
 * exactly what yajl would, in the same order, with the same pointers
 * into the text (yajl, too, hands over a string without escapes and a
 * number as the bytes of the text). The subset: an object at the top;
 * strings of printable ASCII without a backslash; numbers, true, false
 * and null; spaces, tabs and line ends between tokens; nesting up to
 * JSON_SCAN_DEPTH. Anything else - an escape, a byte of 0x80 or above,
 * a comment, any error - ends the scan with JSON_SCAN_OTHER before or
 * after some callbacks ran: the caller starts again from scratch with
 * yajl, which reads it all or says what is wrong with it in its own
 * words. So what this reads is read as yajl reads it, and what it does
 * not, yajl still reads.
 *
 * yajl's lexer looks at every byte through a state machine and checks
 * UTF-8 in strings; this looks for the end of a string eight bytes at a
 * time. Nothing recurses; the nesting is a bit stack of fixed size.
 */
#ifndef AGORA_JSON_SCAN_H
#define AGORA_JSON_SCAN_H

#include <stddef.h>

#include <yajl/yajl_parse.h>

#define JSON_SCAN_DEPTH 512 /* = AGORA_JSON_MAX_DEPTH */

enum json_scan_result {
    JSON_SCAN_OK = 0,        /* all of text read, every callback ran     */
    JSON_SCAN_CANCELED = -1, /* a callback returned 0                   */
    JSON_SCAN_OTHER = -2,    /* not in the subset (or not valid): use yajl */
};

/*
 * Scans text[0..len) (no NUL inside), calling cb's members with ctx as
 * yajl_parse() would. Every member of cb must be set but yajl_integer
 * and yajl_double (numbers go to yajl_number, as its text). Returns an
 * enum json_scan_result.
 */
int json_scan(const char *text, size_t len, const yajl_callbacks *cb,
              void *ctx);

#endif /* AGORA_JSON_SCAN_H */
