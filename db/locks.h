/* locks.h: every PostgreSQL advisory-lock key synkro uses, and the sync engine's mapping locks.
 *
 * The keys, in one place so that two uses never share one by accident. PostgreSQL keeps the
 * one-bigint keys and the two-int4 keys (class, key) apart, so the classes below only need to
 * differ from each other. Class, the lock it makes, and who takes it:
 *  - LOCK_KEY_QUEUE_RECORD (1934713708), db/queue_claim.c: (class, hashtext(source ':'
 *    object_type ':' record id)) per record, transaction-level, by every claim of whole records
 *    and by queue_release_expired; (class, hashtext('pair:' mapping ':' link id)) per linked
 *    pair, session-level, by pairs claims until queue_pairs_release.
 *  - LOCK_KEY_MAPPING (1934713709), the sync workers through lock_mapping_*: (class, mapping id
 *    mod 2^27), session-level; shared while pairs are synced side by side, exclusive for
 *    everything else.
 *  - LOCK_KEY_SLOT (1934713710): retired (the slots that bound how many workers sync one
 *    mapping's pairs at once were advisory locks shared by every process; since issue 17 each
 *    process counts its own, so another instance's busy workers never keep an idle one out).
 *    Older versions may still take (class, (mapping id mod 2^27) * 16 + slot): never reuse it.
 *  - LOCK_KEY_LEASE_HOLDER (1934713711), db/queue_claim.c (queue_holder_take): (class, a
 *    random key in 1..2^31-1), session-level, held by every sync worker's connection for its
 *    whole life: the liveness of the leases stamped with that key (change_events.lease_holder).
 *  - LOCK_KEY_QUEUE_DEPTH (1934713712), db/queue.c (queue_depth): (class, 0), transaction-level:
 *    one instance at a time recounts the queue's depth for all of them.
 *  - LOCK_KEY_SWEEP (1937204080), db/import_store.c (the sweeper): (class, mapping id mod
 *    2^31-1), session-level: one sweep of a mapping at a time, across processes.
 *  - LOCK_KEY_IMPORT (1768779636), db/import_store.c (the sweeper): (class, import id mod
 *    2^31-1), session-level: one step of an import at a time.
 *  - LOCK_KEY_IMPORT_CREATE (1768779637), db/import_store.c: (class, mapping id mod 2^31-1),
 *    transaction-level: one import started per mapping at once.
 *  - LOCK_KEY_MIGRATE (7317735301, the only one-bigint key), db/migrate.c: session-level while
 *    migrations run.
 *
 * A module builds its statements with LOCK_KEY_TEXT(LOCK_KEY_...) (the key as SQL text, so it is
 * part of the constant statement) or passes the number as a parameter.
 *
 * The mapping locks (functions below) are session-level and live on the caller's own connection
 * (a sync worker's, never a pooled one): they outlive transactions, and end with the session, so
 * a worker that dies lets go of them. Their design is in sync/sync_engine.h.
 *
 * Must not: decide who takes which lock (sync/sync_engine.c does), or log. */
#ifndef SYNKRO_DB_LOCKS_H
#define SYNKRO_DB_LOCKS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOCK_KEY_QUEUE_RECORD  1934713708 /* "sQcl" */
#define LOCK_KEY_MAPPING       1934713709
#define LOCK_KEY_SLOT          1934713710
#define LOCK_KEY_LEASE_HOLDER  1934713711
#define LOCK_KEY_QUEUE_DEPTH   1934713712
#define LOCK_KEY_SWEEP         1937204080
#define LOCK_KEY_IMPORT        1768779636
#define LOCK_KEY_IMPORT_CREATE 1768779637
#define LOCK_KEY_MIGRATE       7317735301 /* "synkro migrate"; the only one-bigint key */

/* A key as SQL text: LOCK_KEY_TEXT(LOCK_KEY_SWEEP) is "1937204080". */
#define LOCK_KEY_TEXT_(k) #k
#define LOCK_KEY_TEXT(k)  LOCK_KEY_TEXT_(k)

/* The most workers of one process that may sync one mapping's pairs at once (its slots are
 * counted in the process: sync/sync_engine.c). */
#define LOCK_SLOTS_PER_MAPPING 16

/* Tries the lock of mapping_id (LOCK_KEY_MAPPING) without waiting, shared or exclusive. 1 taken,
 * 0 held by another session in a conflicting mode, -1 with err. */
int lock_mapping_try(PGconn *conn, int64_t mapping_id, bool shared, char *err, size_t errlen);

/* Waits up to wait_ms for mapping_id's exclusive lock (a waiting request also keeps new shared
 * holders out, so batches in flight finish and no new ones start). The lock is session-level;
 * the wait runs in a transaction of its own that only scopes lock_timeout, so conn must not be
 * in a transaction. 1 taken, 0 timed out, -1 with err. */
int lock_mapping_wait(PGconn *conn, int64_t mapping_id, int wait_ms, char *err, size_t errlen);

/* Lets go of one hold of mapping_id's lock in that mode. 1 released, 0 it was not held (so
 * PostgreSQL warned), -1 with err (then the caller should close the connection, which ends every
 * lock of the session). */
int lock_mapping_release(PGconn *conn, int64_t mapping_id, bool shared, char *err, size_t errlen);

#endif
