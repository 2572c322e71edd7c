/* ingest_writer.h: group commit of webhook events.
 *
 * Request handlers hand their events to ingest_submit_async(), which calls
 * back on the writer thread once they are committed (both webhook endpoints
 * suspend their connection meanwhile, so no daemon thread waits). Writer threads take everything
 * queued at that moment (up to batch_max events, from any number of requests), insert it with one
 * statement (one transaction, one commit), and wake each request. A lone
 * request is written at once: the writer never waits to fill a batch;
 * batches form only from requests that arrived while a commit was in
 * flight. That is what lifts ingest above the database's commit rate. A
 * second writer joins a running commit only when a large backlog waits, so
 * small requests gather into fewer, larger commits.
 *
 * Locking: one mutex guards the queue. A submission is heap-allocated when
 * queued and freed by the writer after its callback, which runs outside the
 * lock; the writer's work (and so the wait for the callback) is bounded by the
 * pool's acquire timeout and the statement timeout. */
#ifndef SYNKRO_DB_INGEST_WRITER_H
#define SYNKRO_DB_INGEST_WRITER_H

#include "db/pool.h"
#include "db/queue.h"

#include <stdbool.h>
#include <stddef.h>

struct ingest_writer;

/* Starts nwriters writer threads. NULL on failure. */
struct ingest_writer *ingest_writer_start(struct db_pool *pool, int nwriters, int batch_max);

/* Called once, on a writer thread, when submitted events are committed (rc 0) or not (rc -1,
 * err says why). */
typedef void (*ingest_done_fn)(void *ctx, int rc, const char *err);

/* Stores events durably without waiting: done(ctx, ...) runs once the events are committed (each
 * event's outcome then says stored or duplicate; rc 0), or were not (rc -1: none may be
 * acknowledged); events must stay valid until then. Returns -1 with err (done is then never called)
 * when the writer is stopping or out of memory. Queued events are written even while the writer
 * stops. */
int ingest_submit_async(struct ingest_writer *w, struct queue_event *events, size_t n,
                        ingest_done_fn done, void *ctx, char *err, size_t errlen);

/* Commits events on the calling thread, without a hand-off, when the writer is idle: no commit in
 * flight, nothing queued, the last group commit carried one request (so requests are not
 * arriving side by side, and a commit here delays no batch), and a pooled connection is open and
 * free. Returns true when the events are committed (each event's outcome set; they may be
 * acknowledged), false when the caller must use ingest_submit_async: the writer is busy, or
 * stopping, or the commit failed (the async path then retries it; the insert is idempotent, so
 * an ambiguous first commit only turns "stored" into "duplicate"). Never waits for the pool or
 * connects; the commit itself is bounded by the statement timeout. */
bool ingest_commit_if_idle(struct ingest_writer *w, struct queue_event *events, size_t n);

/* Writes what is queued, then stops and frees the writer. */
void ingest_writer_stop(struct ingest_writer *w);

#endif
