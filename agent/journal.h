/*
 * journal.h - the agent's durable checkpoint: a group-commit journal.
 *
 * The loop appends records (task, update, ack, forget) to an in-memory
 * queue and goes on; one writer thread takes everything queued, appends
 * it to the journal file with one write and ONE fdatasync for the whole
 * batch, then hands the batch back to the loop (ev_async), where each
 * record's callback runs, in append order. A callback means: the record
 * is on disk and survives a crash of the agent or the machine.
 *
 * File format: an 8-byte header "AGJRNL1\n", then records
 *     u32 len | u32 crc32 | u32 type | len bytes of payload   (little endian)
 * where the CRC covers len, type and the payload. Replay stops at the
 * first record that is short or fails its CRC (the torn tail a crash
 * leaves) and truncates the file there, so later appends stay readable.
 *
 * Compaction: once the file exceeds compact_bytes or compact_records
 * (or twice its size after the last compaction, whichever is more), the
 * loop asks its owner for a snapshot of the live state (the `snapshot`
 * callback fills a journal_snap with records) and queues it; the writer
 * thread writes it to <path>.new, fsyncs it, renames it over <path> and
 * fsyncs the directory, then appends later records to the new file. A
 * crash at any point leaves either the old or the new journal whole.
 *
 * Threads: every function here is called on the loop thread only.
 */
#ifndef AGORA_AGENT_JOURNAL_H
#define AGORA_AGENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct journal;
struct journal_snap;

enum journal_type {
    JOURNAL_TASK = 1,   /* a task's checkpoint (task.json), replaces any   */
    JOURNAL_UPDATE = 2, /* a status update, pending until acknowledged     */
    JOURNAL_ACK = 3,    /* {"task_id", "uuid"}: that update was delivered  */
    JOURNAL_FORGET = 4  /* {"task_id"}: the task and its updates are gone  */
};

/* Largest payload accepted (and believed at replay). */
#define JOURNAL_RECORD_MAX (64u * 1024 * 1024)

/*
 * Replay: one intact record, in file order. data is NUL-terminated and
 * borrowed for the call. A negative return stops the replay (and the
 * open) with that error.
 */
typedef int (*journal_replay_fn)(void *arg, int type, const char *data,
                                 size_t len);

/*
 * A record is durable (err 0), or could not be written before the journal
 * closed (AGORA_EIO). Runs on the loop, in append order, never inside
 * journal_append().
 */
typedef void (*journal_done_fn)(void *arg, int err);

/* Fills s with the live state (journal_snap_add); 0 or an agora_err. */
typedef int (*journal_snapshot_fn)(void *arg, struct journal_snap *s);

struct journal_conf {
    const char *path;             /* the journal file; <path>.new beside it  */
    size_t compact_bytes;         /* 0: 8 MB                                 */
    size_t compact_records;       /* 0: 100,000                              */
    journal_replay_fn replay;     /* may be NULL                             */
    journal_snapshot_fn snapshot; /* NULL: never compact                   */
    void *arg;                    /* for replay and snapshot                 */
};

struct journal_stats {
    uint64_t appended; /* records appended since open                   */
    uint64_t batches;  /* writes, each followed by one fdatasync        */
    uint64_t compactions;
    uint64_t replayed;   /* records read at open                          */
    uint64_t torn_bytes; /* dropped at open after the last intact record  */
    uint64_t size;       /* bytes in the file now                         */
    uint64_t records;    /* records in the file now                       */
    uint64_t write_errors;
};

/*
 * Opens (or creates) the journal at c->path, replays it through
 * c->replay (synchronously, before returning), drops a torn tail, and
 * starts the writer thread. c is copied, path included. Returns 0 with
 * *out set, or an agora_err with the reason logged (AGORA_EIO for a file
 * that is not a journal: it is left untouched).
 */
int journal_open(struct ev_loop *loop, const struct journal_conf *c,
                 struct journal **out);

/*
 * Queues one record (data is copied). done(arg, err) runs on the loop
 * once it is durable; done may be NULL. Returns 0, AGORA_ENOMEM,
 * AGORA_ETOOBIG (over JOURNAL_RECORD_MAX) or AGORA_ECANCELED once the
 * journal is closing; then done is never called.
 */
int journal_append(struct journal *j, int type, const char *data, size_t len,
                   journal_done_fn done, void *arg);

/*
 * Queues an ack or forget record, with no callback: {"task_id": task_id}
 * and, when uuid is not NULL, "uuid": uuid (the payloads enum
 * journal_type gives them). Both strings are borrowed for the call.
 * Returns as journal_append().
 */
int journal_append_ids(struct journal *j, int type, const char *task_id,
                       const char *uuid);

/* Adds one record to a snapshot. 0, AGORA_ENOMEM or AGORA_ETOOBIG. */
int journal_snap_add(struct journal_snap *s, int type, const char *data,
                     size_t len);

/* Starts a compaction now if none is running (tests, shutdown). */
int journal_compact(struct journal *j);

void journal_get_stats(const struct journal *j, struct journal_stats *out);

/*
 * Writes and syncs everything queued, runs the callbacks still due (on
 * the caller's thread: the loop's), stops the thread and frees j.
 * Appends made by those callbacks are refused. NULL is a no-op.
 */
void journal_close(struct journal *j);

/*
 * Reads the journal at path without opening it for writing (tests,
 * tools): calls fn for each intact record; *valid (may be NULL) gets the
 * length of the intact prefix. 0, AGORA_ENOENT, AGORA_EIO (not a journal)
 * or fn's error.
 */
int journal_read(const char *path, journal_replay_fn fn, void *arg,
                 uint64_t *valid);

/* The CRC-32 (IEEE) of buf, continuing from crc (0 to start). */
uint32_t journal_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* AGORA_AGENT_JOURNAL_H */
