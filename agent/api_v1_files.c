/*
 * api_v1_files.c - LIST_FILES and READ_FILE on the agent: the sandboxes
 * as /files/browse and /files/read reach them (files.h: the same paths,
 * virtual or real, the same refusal of anything outside the sandboxes
 * and of symlinks swapped in on the way), in the v1 API's shapes.
 *
 * LIST_FILES {"path"} answers {"file_infos": [FileInfo]}: "path", "nlink",
 * "size", "mtime" {"nanoseconds"}, "mode" (st_mode), "uid" and "gid"
 * (names); at most FILES_BROWSE_MAX entries, the first by name.
 *
 * READ_FILE {"path", "offset", "length"?} answers {"size": the file's
 * size, "data": the bytes, base64 as protobuf's JSON mapping writes
 * `bytes`}. As in Mesos, a read is at most 16 memory pages (64 KiB with
 * 4 KiB pages) whatever length asks, and an offset at or past the end
 * reads nothing. So one call holds the loop for one bounded pread().
 *
 * The reasons of refusals are files.h's, answered as plain text with its
 * status: 400 (no path, a directory to READ_FILE), 403 (outside the
 * sandboxes), 404 (missing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "agent_http.h"
#include "api_v1.h"
#include "b64.h"
#include "files.h"
#include "http.h"
#include "v1_call.h"

/* Mesos' cap on one read: 16 memory pages. */
static size_t read_max(void)
{
    long page = sysconf(_SC_PAGESIZE);

    return 16 * (size_t)(page > 0 ? page : 4096);
}

/* The message's "path", or NULL with a 400 reason in why. */
static const char *msg_path(yajl_val msg, const char *call, char *why,
                            size_t whylen)
{
    const char *path = agora_json_get_str(msg, "path");

    if (path == NULL || *path == '\0')
        snprintf(why, whylen, "Failed to validate agent::Call: Expecting "
                              "'%s.path' to be present", call);
    return path && *path ? path : NULL;
}

int agent_v1_list_files(struct agent *a, yajl_val msg, struct agora_jw *w,
                        char *why, size_t whylen)
{
    const char *path = msg_path(msg, "list_files", why, whylen);
    char *root;
    int st;

    if (path == NULL)
        return 400;
    if ((root = agent_sandboxes_dir(a)) == NULL) {
        snprintf(why, whylen, "out of memory");
        return 503;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "file_infos");
    st = files_list(root, path, FILES_V1, w, NULL, why, whylen);
    agora_jw_obj_close(w);
    free(root);
    return st;
}


/* offset (required) and length (optional) of a READ_FILE: 0, or 400
 * with why. */
static int read_range(yajl_val msg, uint64_t *offset, size_t *max,
                      char *why, size_t whylen)
{
    uint64_t length;
    int rc;

    rc = v1_call_u64(msg, "offset", offset);
    if (rc != 0 || *offset > INT64_MAX) {
        snprintf(why, whylen, rc == AGORA_ENOENT
                     ? "Failed to validate agent::Call: Expecting "
                       "'read_file.offset' to be present"
                     : "read_file.offset must be a whole number >= 0");
        return 400;
    }
    *max = read_max();
    rc = v1_call_u64(msg, "length", &length);
    if (rc == AGORA_EINVAL) {
        snprintf(why, whylen, "read_file.length must be a whole number >= 0");
        return 400;
    }
    if (rc == 0 && length < *max)
        *max = (size_t)length;
    return 0;
}

int agent_v1_read_file(struct agent *a, yajl_val msg, struct agora_jw *w,
                       char *why, size_t whylen)
{
    const char *path = msg_path(msg, "read_file", why, whylen);
    unsigned char *buf = NULL;
    uint64_t offset = 0, size = 0;
    size_t max, n = 0, blen = 0;
    char *root, *b64 = NULL;
    int st;

    if (path == NULL)
        return 400;
    if ((st = read_range(msg, &offset, &max, why, whylen)) != 0)
        return st;
    if ((root = agent_sandboxes_dir(a)) == NULL) {
        snprintf(why, whylen, "out of memory");
        return 503;
    }
    st = files_read_raw(root, path, (int64_t)offset, max, &buf, &n, &size,
                        why, whylen);
    free(root);
    if (st != 0)
        return st;
    b64 = b64_encode_alloc(buf ? buf : (const unsigned char *)"", n, &blen);
    if (b64 == NULL) {
        free(buf);
        snprintf(why, whylen, "out of memory");
        return 503;
    }
    agora_jw_obj_open(w);
    agora_jw_kint(w, "size", (int64_t)size);
    agora_jw_key(w, "data");
    agora_jw_strn(w, b64, blen);
    agora_jw_obj_close(w);
    free(b64);
    free(buf);
    return 0;
}
