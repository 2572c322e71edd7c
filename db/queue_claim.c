/* queue_claim.c: the SQL by which workers claim, settle, recover and prune change events.
 *
 * Owns the claimed records it hands out (queue_claimed_free) and nothing across calls.
 *
 * Locking design. A claim is one READ COMMITTED transaction of two statements:
 *  1. pick: read the oldest due pending rows (partial index change_events_due, or per object
 *     change_events_due_object when filtered, with plain index scans only), leaving out
 *     records leased right now (a hashed set of the processing rows); group them by record;
 *     then, in due order, take pg_try_advisory_xact_lock(QUEUE_RECORD_LOCK, hashtext(record key))
 *     until max_records records are held. A filter (queue_claim_records_for) keeps only the
 *     due rows of one mapping's objects in this read. A record another claim holds at this moment
 * is skipped, not waited for. The lock lives until COMMIT/ROLLBACK.
 *  2. take: under a new snapshot, i.e. one taken after the locks were granted, recheck that no
 *     picked record has an unexpired lease; lock every unfinished event of each record with
 *     FOR UPDATE SKIP LOCKED; keep only records whose events were all locked (a row locked by
 *     anyone else, e.g. a worker settling an expired lease, means "not now": the record is left
 *     whole for a later claim, so its events never split and stay in order); mark exactly those
 *     locked rows 'processing' under the lease and return them.
 * Why two claimers never hold events of one record at once (two guards, each enough alone):
 *  - record lock: leases are only created by a claim holding the record's advisory lock;
 *    PostgreSQL makes a commit visible before it releases the transaction's locks, so statement 2
 *    of the next holder sees every lease of every earlier holder, and nobody else can create one
 *    while it holds the lock. Hash collisions of two records only make them wait for each other.
 *  - row locks: a claim must lock every unfinished event of the record it saw; two claims that
 *    race see a common unfinished event, and only one can lock it (SKIP LOCKED never waits, so
 *    there is no deadlock with settling or the janitor; after the winner commits, the row fails
 *    the loser's "unfinished" recheck).
 * A lease ends when settled, when its holder's session ends (below), or when it expires (then
 * takeover is intended, and the old holder is fenced: settling checks lease_owner).
 * queue_release_expired takes the same advisory lock, so it never returns events of a record that a
 * claim is taking over. Events without a record id cannot be ordered against anything: each is a
 * record of its own, made exclusive by its row lock.
 *
 * Pairs mode (queue_claim_pairs). Statement 1 keeps only records of an active link of the mapping
 * that holds both ids (and no unfinished merge), and the advisory key is the link instead of the
 * record, so both records of a pair share one key; records of one link are sorted next to each
 * other so one claim takes both. Statement 2 also rechecks, under its new snapshot, that no record
 * of the link is leased (by either side) and that the record still belongs to that link. The
 * record-lock argument above then holds per link: every lease on a record of link L was created
 * by a claim holding L's key, so the next holder of L sees it. Unlike the record key, the link key
 * is taken session-level and kept until the caller has settled the batch (queue_pairs_release):
 * pairs batches of one mapping run side by side, so, unlike whole-mapping batches, nothing else
 * would stop a second worker from taking over a lease that ran out while its holder is still
 * writing to the CRMs. A holder that dies loses its session and the key with it; its leases then
 * run out and the records are taken over as usual. The lock is the last test of a row's
 * condition (nested CASEs fix the order), so every key taken belongs to a returned row. It relies
 * on a record's link not changing while a claim holds it: links change ids only in the
 * transaction that settles the batch holding them, or under the mapping's exclusive lock
 * (sync_engine.h), when no pairs claim runs. "Is a record of link L leased?" reads, for a lease a
 * pairs claim made, the link it was made under (kept on the event, lease_pair: right for the
 * whole lease by the same rule, and no lookup per leased record), and looks up the link of a
 * record leased by a claim of whole records. Records left out are reported by a row of NULLs
 * after the picked ones, and a pick that found due records but could take none says so in
 * another (PICK_BLOCKED_MARK).
 *
 * Import pieces (also queue_claim_pairs). An import's creates used to need the mapping alone (an
 * unlinked record's batch may link it), so one worker of one instance synced them. A pairs claim
 * now also takes, as a piece, a due record X that: is on the side the mapping's running import
 * pages (at most one import runs per mapping), has a pending event of that import, has no link
 * row at all in the mapping, has no unfinished merge, and none of whose unfinished events was
 * ever tried (attempts 0). Its key is PIECE_KEY, a negative number (never a link id) taken
 * session-level and held until the batch is settled, like a link's. Statement 2 rechecks, under
 * its new snapshot, that X is not leased, still has no link row, no merge and no tried event.
 * Why this keeps both guards and the links' rule true:
 *  - one holder per record: a lease on X is created by a piece claim holding X's key, by an
 *    exclusive claim (never while a pairs/piece batch holds the mapping shared), or by a pairs
 *    claim (only once X has a complete link, which only X's own batch's commit makes); so while
 *    X's piece holder lives, even past its lease, nobody else claims X. A dead holder's session
 *    and key end; its leases are given back (liveness, below) with attempts + 1, so the retry is
 *    no piece and runs under the exclusive lock, as every crash recovery of a create did.
 *  - links change only where nobody else holds them: a piece batch may only create X's partner
 *    (sync_batch.c puts a piece back, attempts + 1, when its read found an existing partner to
 *    adopt), so its commit inserts a new link between X and a record it created itself. Nobody
 *    held that record: its own events (a HubSpot creation webhook, an outbound message) belong
 *    to no complete link and no import, so pairs and piece claims leave them for the exclusive
 *    lock, which waits for this batch's shared hold. No existing link changes ids.
 *  - the other side's unlinked records (which could name X) are never pieces: only the running
 *    import's side is, and they wait for the exclusive lock as before.
 *
 * Settling (complete/retry/fail) locks its rows in id order and only while status is
 * 'processing', lease_owner is the caller and lease_holder is the calling session's key,
 * rechecked by PostgreSQL on the newest row version.
 *
 * Liveness (queue_holder_take, migration 0011). A sync worker's connection takes a session-level
 * advisory lock (LOCK_KEY_LEASE_HOLDER, K) on a random key K no live session holds, names K in
 * the session setting synkro.lease_holder, and keeps both for the session's life; every claim on
 * that session stamps lease_holder = K on the rows it leases. PostgreSQL releases a session's
 * advisory locks when the session ends, which a killed process's sessions do at once. So a
 * processing row whose K nobody holds belongs to an ended session: queue_release_expired (the
 * janitor, every second, in every process) and queue_holder_take (a worker, successor or not,
 * as it connects) give such leases back at once, as they give back expired ones; a live holder,
 * however slow, keeps its lease until lease_until.
 * Why a live holder's lease is never released early: K is taken before the session's first
 * claim and never unlocked, so while the session lives, K is in pg_locks; a row stamped K was
 * written by a session holding K. The statement's list of live keys (read once) only picks
 * candidates; the final UPDATE looks K up in pg_locks again on the locked, newest version of each
 * row (STILL_GONE), so a lease a new session holding a reused K took meanwhile is seen alive.
 * Why nothing is synced twice by two live holders: an early release needs the holder's session
 * to be gone. A killed process holds nothing. A live process whose session was cut (PostgreSQL
 * restarted, the network broke) cannot settle that batch: settling requires the session's own K,
 * and a reconnected worker has a new session and a new K; its records are claimed by one new
 * holder under the usual record/link locks. What such a cut holder may still do is finish the
 * CRM calls it had in flight when the cut happened (it notices at its next statement), the same
 * window an expired lease has always had; its writes are then seen by the next holder's reads
 * (values equal: nothing written again) and its write-ahead record resolves the rest
 * (docs/ARCHITECTURE.md, "Never lose an edit"). A session without a key (tests, tools) leases
 * with lease_holder NULL: only lease_until ends those.
 *
 * Must not: decide statuses of unmapped/held events (db/mapping_store.c does), call CRMs, log. */
#include "db/queue_claim.h"

#include "db/locks.h"
#include "db/pool.h"
#include "base/metrics.h"
#include "base/strbuf.h"

#include <inttypes.h>
#include <stdbool.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *id_array(const int64_t *ids, size_t n);

/* First key of every record and pair lock (db/locks.h lists every key). */
#define QUEUE_RECORD_LOCK LOCK_KEY_TEXT(LOCK_KEY_QUEUE_RECORD)

/* The key hashed for a record's advisory lock; the same text in every statement. */
#define RECORD_KEY(alias)                                                                          \
    "hashtext(" alias "source || ':' || " alias "object_type || ':' || " alias "record_id)"

/* Due rows read per claimed record: room for several events per record and for records other
 * claimers hold at the same moment. */
#define WINDOW_PER_RECORD 8
#define WINDOW_MIN        64
#define WINDOW_MAX        20000

/* Records leased now, read once per statement as its first CTE (LEASED_CTE) and used by LEASED
 * and LEASED_PAIRS: a scan of the partial index change_events_leased (processing rows only), with
 * the link each was leased under by a pairs claim (lease_pair, migration 0021).
 * LEASED is used as "NOT IN": PostgreSQL hashes it once, so excluding leased records costs one
 * probe per due row whatever the planner estimates. One scan instead of three: between vacuums
 * the processing rows' index entries are mostly dead (each claim and settle of a burst adds
 * one), and every scan walks them. */
#define LEASED_CTE                                                                                 \
    " leased AS MATERIALIZED (SELECT l.source, l.object_type, l.record_id, l.lease_pair"           \
    " FROM change_events l"                                                                        \
    " WHERE l.status = 'processing' AND l.lease_until > now() AND l.record_id IS NOT NULL),"
#define LEASED "SELECT source, object_type, record_id FROM leased"

/* The link of a due record (alias r) in pairs mode: an active link of mapping $7 holding both
 * ids. Each branch uses one of the unique indexes sync_links_salesforce / sync_links_hubspot. */
#define PAIR_OF(r, m)                                                                              \
    "CASE WHEN " r "record_id IS NULL THEN NULL WHEN " r "source = 'salesforce' THEN"              \
    " (SELECT l.id FROM sync_links l WHERE l.mapping_id = " m " AND l.salesforce_id = " r          \
    "record_id AND l.hubspot_id IS NOT NULL AND l.state = 'active')"                               \
    " ELSE (SELECT l.id FROM sync_links l WHERE l.mapping_id = " m " AND l.hubspot_id = " r        \
    "record_id AND l.salesforce_id IS NOT NULL AND l.state = 'active') END"

/* Any link row (whatever its state) of mapping m that holds record r of source s. */
#define LINKED(s, r, m)                                                                            \
    "(CASE WHEN " s " = 'salesforce' THEN EXISTS (SELECT 1 FROM sync_links l WHERE"                \
    " l.mapping_id = " m " AND l.salesforce_id = " r ") ELSE EXISTS (SELECT 1 FROM sync_links l"   \
    " WHERE l.mapping_id = " m " AND l.hubspot_id = " r ") END)"

/* The running import of mapping m (at most one: db/import_store.c) and the source it pages, when
 * on is true. */
#define RUNNING_IMPORT(on, m)                                                                      \
    "SELECT i.id, CASE WHEN i.direction = 'hubspot_to_salesforce' THEN 'hubspot'"                  \
    " ELSE 'salesforce' END AS src FROM sync_imports i WHERE " on " AND i.mapping_id = " m         \
    " AND i.status = 'running'"

/* The key of an import piece (alias r with its dot): negative, so never a link's id; one per
 * record (a hash collision only puts two records in one claim). */
#define PIECE_KEY(r) "(-1 - (hashtext(" r "source || ':' || " r "record_id)::bigint + 2147483648))"

/* Links of mapping m that have a record leased now (either side), from LEASED_CTE: the link a
 * pairs claim leased the record under, kept on the event (lease_pair), or, for a record leased
 * by a claim of whole records, its link looked up. A kept link stays right for the whole lease:
 * a record changes links only in its own batch (which keeps the link id leased through its
 * other record or through lease_pair) or in a merge, which runs under the mapping's exclusive
 * lock, after every pairs batch of the mapping has ended (sync_engine.c). Links of another
 * mapping in the list are harmless: link ids are unique. One probe of sync_links per leased
 * record made these lists cost as much as the rest of a claim in a three-instance burst. */
#define LEASED_PAIRS(m)                                                                            \
    "SELECT e.lease_pair AS id FROM leased e WHERE e.lease_pair IS NOT NULL"                       \
    " UNION ALL SELECT l.id FROM leased e JOIN sync_links l ON l.mapping_id = " m                  \
    " AND l.salesforce_id = e.record_id WHERE e.source = 'salesforce' AND e.lease_pair IS NULL"    \
    " UNION ALL SELECT l.id FROM leased e JOIN sync_links l ON l.mapping_id = " m                  \
    " AND l.hubspot_id = e.record_id WHERE e.source = 'hubspot' AND e.lease_pair IS NULL"

/* An unfinished HubSpot merge event of record (s, o, r): such a record re-points links, so only
 * a claim of the whole mapping may take it. Both read the small partial index
 * change_events_merge_open (migration 0017); ANY_MERGE_PENDING, one read for the statement, lets
 * the pick skip the per-record question when no merge is unfinished at all (nearly always). */
#define ANY_MERGE_PENDING                                                                          \
    "EXISTS (SELECT 1 FROM change_events m WHERE m.kind = 'merge'"                                 \
    " AND m.status IN ('pending', 'processing'))"
#define MERGE_PENDING(s, o, r)                                                                     \
    "EXISTS (SELECT 1 FROM change_events m WHERE m.source = " s " AND m.object_type = " o          \
    " AND m.record_id = " r " AND m.kind = 'merge' AND m.status IN ('pending', 'processing'))"

/* The advisory lock keys: a record's (transaction-level, taken by every claim of whole records)
 * and a link's (session-level, taken by pairs claims and held until queue_pairs_release). */
#define RECORD_XACT_LOCK "pg_try_advisory_xact_lock(" QUEUE_RECORD_LOCK ", " RECORD_KEY("") ")"
#define PAIR_KEY(m, k)   "hashtext('pair:' || " m " || ':' || " k ")"
#define PAIR_SESSION_LOCK                                                                          \
    "pg_try_advisory_lock(" QUEUE_RECORD_LOCK ", " PAIR_KEY("$7::bigint", "pair") ")"

/* The lease holder key of this session (queue_holder_take), NULL when it has none. */
#define HOLDER_SELF "NULLIF(current_setting('synkro.lease_holder', true), '')::int"

/* A row of pg_locks that is a granted liveness lock of this database (alias with its dot). */
#define HOLDER_LOCK_ROW(l)                                                                         \
    l "locktype = 'advisory' AND " l "classid = " LOCK_KEY_TEXT(                                   \
        LOCK_KEY_LEASE_HOLDER) "::oid"                                                             \
                               " AND " l "objsubid = 2 AND " l "granted AND " l                    \
                               "database = (SELECT d.oid FROM pg_database"                         \
                               " d WHERE d.datname = current_database())"
#define HOLDER_LOCKS "SELECT 1 FROM pg_locks l WHERE " HOLDER_LOCK_ROW("l.")

/* Takes the liveness lock of key $1 for the session and, only when it got it, names the key in
 * the session setting the claim and settle statements read. NULL when a live session holds it. */
static const char holder_take_sql[] = "SELECT CASE WHEN pg_try_advisory_lock(" LOCK_KEY_TEXT(
    LOCK_KEY_LEASE_HOLDER) ", $1::int)"
                           " THEN set_config('synkro.lease_holder', $1::text, false) END";

/* The due rows of one branch of the pick, oldest first, at most the window ($1): all objects
 * (no filter: change_events_due) or one object of a filter (change_events_due_object, migration
 * 0018, whose (source, lower(object_type)) prefix makes the read stop at the window whatever the
 * other mappings' backlogs; HubSpot's branches add the exact match the filter asks for). */
#define DUE_BRANCH(cond)                                                                           \
    " (SELECT d.id, d.source, d.object_type, d.record_id, d.next_attempt_at, d.import_id,"         \
    " d.attempts FROM change_events d WHERE d.status = 'pending' AND d.next_attempt_at <= now()"   \
    " AND (d.record_id IS NULL OR (d.source, d.object_type, d.record_id) NOT IN (" LEASED "))"     \
    " AND " cond " ORDER BY d.next_attempt_at, d.id LIMIT $1::int)"
/* The branches' conditions: no filter, or the filter's Salesforce object, HubSpot object type id
 * and (when it differs) HubSpot object name. */
#define DUE_ALL "NOT $3::bool"
#define DUE_SF  "$3::bool AND d.source = 'salesforce' AND lower(d.object_type) = lower($4::text)"
#define DUE_HS_ID                                                                                  \
    "$3::bool AND d.source = 'hubspot' AND lower(d.object_type) = lower($5::text)"                 \
    " AND d.object_type = $5::text"
#define DUE_HS_NAME                                                                                \
    "$3::bool AND $6::text IS DISTINCT FROM $5::text AND d.source = 'hubspot'"                     \
    " AND lower(d.object_type) = lower($6::text) AND d.object_type = $6::text"
/* Whether any event of a branch is due, leased record or not: one index entry read. */
#define DUE_ANY(cond)                                                                              \
    "EXISTS (SELECT 1 FROM change_events d WHERE d.status = 'pending'"                             \
    " AND d.next_attempt_at <= now() AND " cond ")"

/* $7 mapping id and $8 pairs mode (queue_claim_pairs): only records of an active complete link,
 * keyed by that link, so both records of a pair go to one claim (sorted next to each other, so
 * the LIMIT rarely parts them); the rest (unlinked records, merges, events without a record id)
 * are left and reported by one row of NULLs. A pairs claim takes import pieces (negative keys)
 * or linked pairs, never both: the oldest candidate not leased decides which, so a batch is all
 * creates or all updates and echoes (a mixed one pays both kinds' calls for fewer records each:
 * a create call per 100, the write-back, the reads). The lock is the last thing a row's condition
 * does (nested CASEs fix the order), so every lock taken belongs to a returned row: the caller
 * knows exactly which session locks it holds. */
/* The pick's last rows are markers (every column NULL but age_ms): age_ms NULL when due records
 * were left for the exclusive claim (pairs mode), PICK_BLOCKED_MARK when events were due but none
 * was taken (each record leased, its pair leased or locked by another claim at that moment, or
 * left for the exclusive claim). */
#define PICK_BLOCKED_MARK "-1"
/* clang-format off */
static const char pick_sql[] =
    "WITH" LEASED_CTE " due AS MATERIALIZED (SELECT * FROM ("
    DUE_BRANCH(DUE_ALL) " UNION ALL " DUE_BRANCH(DUE_SF) " UNION ALL " DUE_BRANCH(DUE_HS_ID)
    " UNION ALL " DUE_BRANCH(DUE_HS_NAME)
    ") x ORDER BY next_attempt_at, id LIMIT $1::int),"
    " imp AS MATERIALIZED (" RUNNING_IMPORT("$8::bool", "$7::bigint") "),"
    " merges AS MATERIALIZED (SELECT " ANY_MERGE_PENDING " AS any_merge),"
    " lpairs AS MATERIALIZED (SELECT x.id FROM (" LEASED_PAIRS("$7::bigint") ") x"
    "  WHERE $8::bool),"
    " recs AS MATERIALIZED ("
    " SELECT source, object_type, record_id, CASE WHEN record_id IS NULL THEN id END AS lone_id,"
    "  min(next_attempt_at) AS first_due, min(id) AS first_id,"
    "  bool_or(import_id = (SELECT id FROM imp)) AS imported, max(attempts) AS tries"
    " FROM due GROUP BY 1, 2, 3, 4),"
    " keyed AS MATERIALIZED ("
    " SELECT r.*, CASE WHEN $8::bool THEN COALESCE(" PAIR_OF("r.", "$7::bigint") ","
    "  CASE WHEN r.imported AND r.tries = 0 AND r.source = (SELECT src FROM imp)"
    "   AND NOT " LINKED("r.source", "r.record_id", "$7::bigint") " THEN " PIECE_KEY("r.")
    "  END) END AS pair FROM recs r),"
    " sorted AS MATERIALIZED ("
    " SELECT k.*, CASE WHEN NOT $8::bool THEN true WHEN k.pair IS NULL THEN false"
    "  WHEN NOT (SELECT any_merge FROM merges) THEN true"
    "  ELSE NOT " MERGE_PENDING("k.source", "k.object_type", "k.record_id") " END AS ok"
    " FROM keyed k ORDER BY CASE WHEN pair IS NULL THEN first_due"
    "  ELSE min(first_due) OVER (PARTITION BY pair) END, pair, first_due, first_id),"
    " chosen AS ("
    " SELECT source, object_type, record_id, lone_id, pair,"
    "  round(extract(epoch FROM now() - first_due) * 1000)::bigint AS age_ms"
    " FROM sorted WHERE CASE"
    "  WHEN NOT ok THEN false"
    "  WHEN NOT $8::bool THEN lone_id IS NOT NULL OR " RECORD_XACT_LOCK
    "  WHEN (pair < 0) IS DISTINCT FROM (SELECT f.pair < 0 FROM sorted f WHERE f.ok"
    "   AND f.pair NOT IN (SELECT id FROM lpairs) LIMIT 1) THEN false"
    "  ELSE CASE WHEN pair IN (SELECT id FROM lpairs) THEN false"
    "   ELSE " PAIR_SESSION_LOCK " END END"
    " LIMIT $2::int)"
    " SELECT source, object_type, record_id, lone_id, pair, age_ms FROM chosen"
    " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE $8::bool"
    "  AND EXISTS (SELECT 1 FROM sorted WHERE NOT ok)"
    " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, " PICK_BLOCKED_MARK
    "  WHERE NOT EXISTS (SELECT 1 FROM chosen) AND (EXISTS (SELECT 1 FROM sorted WHERE ok)"
    "  OR " DUE_ANY(DUE_ALL) " OR " DUE_ANY(DUE_SF) " OR " DUE_ANY(DUE_HS_ID)
    "  OR " DUE_ANY(DUE_HS_NAME) ")";
/* clang-format on */

/* An unfinished event: what a claim takes of a picked record. */
#define UNFINISHED(a)                                                                              \
    a "status IN ('pending', 'processing') AND (" a "status = 'pending' OR " a                     \
      "lease_until <= now())"

/* Statement 2. Each returned event carries its picked record's number (n) and piece flag from
 * cand through `place`, a JSON object keyed by event id, looked up per row (as is the link the
 * update keeps in lease_pair, for LEASED_PAIRS): the planner cannot
 * estimate the CTEs' sizes (it guesses a handful of rows for the JSON list of picks), so a join of
 * the updated rows with cand ran as a nested loop over both, quadratic in the batch's events
 * (360,000 comparisons for 600 events, half the statement's time in bench-scale). */
/* clang-format off */
static const char take_sql[] =
    "WITH" LEASED_CTE " picked AS MATERIALIZED ("
    " SELECT * FROM jsonb_to_recordset($1::jsonb)"
    "  AS p(n int, s text, o text, r text, l bigint, k bigint)),"
    " free AS MATERIALIZED ("
    " SELECT p.* FROM picked p WHERE (p.l IS NOT NULL OR (p.s, p.o, p.r) NOT IN (" LEASED "))"
    " AND (p.k IS NULL OR (p.k > 0 AND p.k NOT IN (" LEASED_PAIRS("$4::bigint") ")"
    "  AND NOT " MERGE_PENDING("p.s", "p.o", "p.r")
    "  AND EXISTS (SELECT 1 FROM sync_links l WHERE l.id = p.k AND l.state = 'active'"
    "   AND l.salesforce_id IS NOT NULL AND l.hubspot_id IS NOT NULL"
    "   AND (l.salesforce_id = p.r OR l.hubspot_id = p.r)))"
    "  OR (p.k < 0 AND NOT " MERGE_PENDING("p.s", "p.o", "p.r")
    "  AND NOT " LINKED("p.s", "p.r", "$4::bigint")
    "  AND NOT EXISTS (SELECT 1 FROM change_events a WHERE a.source = p.s"
    "   AND a.object_type = p.o AND a.record_id = p.r AND a.status IN ('pending', 'processing')"
    "   AND a.attempts > 0)))),"
    " cand AS MATERIALIZED ("
    " SELECT f.n, x.id, COALESCE(f.k < 0, false) AS piece,"
    "  CASE WHEN f.k > 0 THEN f.k END AS pair FROM free f CROSS JOIN LATERAL ("
    "  SELECT e.id FROM change_events e WHERE e.source = f.s AND e.object_type = f.o"
    "  AND e.record_id = f.r AND " UNFINISHED("e.") " OFFSET 0) x WHERE f.l IS NULL"
    " UNION ALL"
    " SELECT f.n, x.id, COALESCE(f.k < 0, false), CASE WHEN f.k > 0 THEN f.k END"
    " FROM free f CROSS JOIN LATERAL ("
    "  SELECT e.id FROM change_events e WHERE e.id = f.l AND e.status = 'pending'"
    "  AND e.next_attempt_at <= now() OFFSET 0) x WHERE f.l IS NOT NULL),"
    " locked AS MATERIALIZED ("
    " SELECT e.id FROM change_events e WHERE e.id = ANY (ARRAY(SELECT id FROM cand))"
    " AND " UNFINISHED("e.") " FOR UPDATE SKIP LOCKED),"
    " whole AS ("
    " SELECT c.n FROM cand c LEFT JOIN locked k ON k.id = c.id"
    " GROUP BY c.n HAVING count(k.id) = count(*)),"
    " place AS MATERIALIZED (SELECT jsonb_object_agg(c.id::text,"
    "  jsonb_build_array(c.n, c.piece, c.pair)) AS m FROM cand c),"
    " upd AS ("
    " UPDATE change_events e SET status = 'processing', lease_owner = $2,"
    "  lease_holder = " HOLDER_SELF ","
    "  lease_until = now() + $3::bigint * interval '1 millisecond',"
    "  lease_pair = ((SELECT m FROM place) -> e.id::text ->> 2)::bigint"
    " WHERE e.id = ANY (ARRAY(SELECT k.id FROM locked k JOIN cand c2 ON c2.id = k.id"
    "  JOIN whole w ON w.n = c2.n))"
    " AND " UNFINISHED("e.") " RETURNING e.id, e.source, e.object_type, e.record_id,"
    "  e.kind, e.occurred_at, e.received_at, e.attempts, e.payload)"
    " SELECT ((SELECT m FROM place) -> u.id::text ->> 0)::int AS n, u.id, u.source,"
    "  u.object_type, u.record_id, u.kind,"
    "  COALESCE(round(extract(epoch FROM u.occurred_at) * 1000)::bigint, 0), u.attempts,"
    "  u.payload::text,"
    "  round(extract(epoch FROM u.received_at) * 1000)::bigint,"
    "  ((SELECT m FROM place) -> u.id::text ->> 1)::bool"
    " FROM upd u ORDER BY n, COALESCE(u.occurred_at, u.received_at), u.id";
/* clang-format on */

static void copy_error(PGconn *conn, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
}

static int rollback(PGconn *conn)
{
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

static void put_json_str(struct strbuf *sb, const char *key, const char *value, int null)
{
    strbuf_printf(sb, ",\"%s\":", key);
    if (null) {
        strbuf_puts(sb, "null");
        return;
    }
    strbuf_putc(sb, '"');
    strbuf_json_escape(sb, value, strlen(value));
    strbuf_putc(sb, '"');
}

/* The picked records of statement 1 as the JSON array statement 2 expands. */
static char *picked_json(PGresult *res)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_putc(&sb, '[');
    int listed = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 0))
            continue; /* the "others are due" row of pairs mode */
        strbuf_printf(&sb, "%s{\"n\":%d", listed++ ? "," : "", i);
        put_json_str(&sb, "s", PQgetvalue(res, i, 0), 0);
        put_json_str(&sb, "o", PQgetvalue(res, i, 1), 0);
        put_json_str(&sb, "r", PQgetvalue(res, i, 2), PQgetisnull(res, i, 2));
        strbuf_printf(&sb, ",\"l\":%s", PQgetisnull(res, i, 3) ? "null" : PQgetvalue(res, i, 3));
        strbuf_printf(&sb, ",\"k\":%s}", PQgetisnull(res, i, 4) ? "null" : PQgetvalue(res, i, 4));
    }
    strbuf_putc(&sb, ']');
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

void queue_claimed_free(struct claimed_record *records, size_t n)
{
    if (!records)
        return;
    for (size_t i = 0; i < n; i++) {
        struct claimed_record *r = &records[i];
        free(r->source);
        free(r->object_type);
        free(r->record_id);
        for (size_t j = 0; r->events && j < r->nevents; j++) {
            free(r->events[j].kind);
            free(r->events[j].payload_json);
        }
        free(r->events);
        free(r->ids);
    }
    free(records);
}

static char *dup_value(PGresult *res, int row, int col, int *failed)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    char *s = strdup(PQgetvalue(res, row, col));
    if (!s)
        *failed = 1;
    return s;
}

/* Rows of take_sql (ordered by record, then occurrence) into records. -1 when out of memory. */
static int collect_records(PGresult *res, struct claimed_record **out, size_t *n)
{
    int rows = PQntuples(res);
    size_t nrec = 0;
    for (int i = 0; i < rows; i++)
        if (i == 0 || strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0)) != 0)
            nrec++;
    *out = NULL;
    *n = 0;
    if (nrec == 0)
        return 0;
    struct claimed_record *recs = calloc(nrec, sizeof *recs);
    if (!recs)
        return -1;
    int failed = 0;
    size_t k = 0;
    for (int i = 0; i < rows && !failed;) {
        int end = i + 1;
        while (end < rows && strcmp(PQgetvalue(res, end, 0), PQgetvalue(res, i, 0)) == 0)
            end++;
        struct claimed_record *r = &recs[k++];
        size_t count = (size_t)(end - i);
        r->source = dup_value(res, i, 2, &failed);
        r->object_type = dup_value(res, i, 3, &failed);
        r->record_id = dup_value(res, i, 4, &failed);
        r->piece = PQnfields(res) > 10 && strcmp(PQgetvalue(res, i, 10), "t") == 0;
        r->events = calloc(count, sizeof *r->events);
        r->ids = calloc(count, sizeof *r->ids);
        if (!r->events || !r->ids) {
            failed = 1;
            break;
        }
        r->nevents = count;
        for (size_t j = 0; j < count; j++) {
            int row = i + (int)j;
            struct claimed_event *e = &r->events[j];
            e->id = strtoll(PQgetvalue(res, row, 1), NULL, 10);
            r->ids[j] = e->id;
            e->kind = dup_value(res, row, 5, &failed);
            e->occurred_at_ms = strtoll(PQgetvalue(res, row, 6), NULL, 10);
            e->attempts = (int)strtol(PQgetvalue(res, row, 7), NULL, 10);
            e->payload_json = dup_value(res, row, 8, &failed);
            e->received_at_ms = strtoll(PQgetvalue(res, row, 9), NULL, 10);
        }
        i = end;
    }
    if (failed) {
        queue_claimed_free(recs, nrec);
        return -1;
    }
    *out = recs;
    *n = nrec;
    return 0;
}

int queue_claim_records(PGconn *conn, const char *worker_id, int max_records, int lease_ms,
                        struct claimed_record **out, size_t *n, char *err, size_t errlen)
{
    return queue_claim_records_for(conn, worker_id, NULL, max_records, lease_ms, out, n, err,
                                   errlen);
}

/* Records in *held the link locks the pick took (one per picked row). -1 when out of memory. */
static int hold_links(PGresult *picked, int rows, struct queue_pair_locks *held)
{
    if (rows == 0)
        return 0;
    held->links = calloc((size_t)rows, sizeof *held->links);
    if (!held->links) {
        held->unknown = true;
        return -1;
    }
    for (int i = 0; i < rows; i++)
        held->links[held->n++] = strtoll(PQgetvalue(picked, i, 4), NULL, 10);
    return 0;
}

/* Both claims: pairs_of > 0 is pairs mode for that mapping (*others_due and *held are then
 * set). */
/* True when the picked rows make a partial batch of a burst still arriving: at least young_min
 * (default a quarter of max_records) but fewer than max_records, the oldest due for less than
 * young_ms; or fewer than young_min (at least one), the oldest due for less than gather_ms. */
static bool burst_arriving(PGresult *picked, int rows, int max_records,
                           const struct queue_claim_filter *f)
{
    int least = f->young_min > 0 ? f->young_min : (max_records + 3) / 4;
    int wait_ms = rows < least ? f->gather_ms : f->young_ms;
    if (wait_ms <= 0 || rows < 1 || rows >= max_records)
        return false;
    long long oldest = 0;
    for (int i = 0; i < rows; i++) {
        long long age = strtoll(PQgetvalue(picked, i, 5), NULL, 10);
        oldest = age > oldest ? age : oldest;
    }
    return oldest < wait_ms;
}

static struct metric_family *m_picks;
static struct metrics_once metrics_once;

static void claim_metrics_init(void)
{
    static const char *const labels[] = {"outcome"};
    m_picks = metrics_register(
        METRIC_COUNTER, "synkro_queue_picks_total",
        "Claims by what their pick found: taken (events claimed), deferred (a partial batch of a "
        "burst still arriving: nothing taken, picked again in a moment), blocked (events due, "
        "none taken: leased or locked by another claim, or left for the exclusive claim), "
        "empty (nothing due).",
        labels, 1, NULL, 0);
}

static void count_pick(enum queue_pick outcome)
{
    static const char *const names[] = {
        [QUEUE_PICK_EMPTY] = "empty",
        [QUEUE_PICK_TAKEN] = "taken",
        [QUEUE_PICK_DEFERRED] = "deferred",
        [QUEUE_PICK_BLOCKED] = "blocked",
    };
    metrics_once_run(&metrics_once, claim_metrics_init);
    const char *labels[] = {names[outcome]};
    metrics_add(m_picks, labels, 1);
}

static int claim(PGconn *conn, const char *worker_id, const struct queue_claim_filter *filter,
                 int64_t pairs_of, int max_records, int lease_ms, struct claimed_record **out,
                 size_t *n, bool *others_due, struct queue_pair_locks *held,
                 enum queue_pick *outcome, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (outcome)
        *outcome = QUEUE_PICK_EMPTY;
    if (others_due)
        *others_due = false;
    if (!worker_id || !*worker_id || max_records < 1 || lease_ms < 1) {
        snprintf(err, errlen, "a claim needs a worker id, max_records >= 1 and lease_ms >= 1");
        return -1;
    }
    long window = (long)max_records * WINDOW_PER_RECORD;
    if (window < WINDOW_MIN)
        window = WINDOW_MIN;
    if (window > WINDOW_MAX)
        window = WINDOW_MAX;
    char window_text[24], max_text[24], lease_text[24], mapping_text[24];
    snprintf(mapping_text, sizeof mapping_text, "%" PRId64, pairs_of);
    snprintf(window_text, sizeof window_text, "%ld", window);
    snprintf(max_text, sizeof max_text, "%d", max_records);
    snprintf(lease_text, sizeof lease_text, "%d", lease_ms);

    /* READ COMMITTED on purpose: statement 2 must see commits made before its own start. */
    if (db_exec_command(conn, "BEGIN ISOLATION LEVEL READ COMMITTED", err, errlen) < 0)
        return -1;
    /* Index scans only: the claim's partial indexes (due, leased, object_open) carry mostly dead
     * entries between vacuums in a burst (each claim and settle adds one per event), and only a
     * plain index scan marks the ones it finds dead so that the next claim skips them; a bitmap
     * scan, which the planner prefers from statistics that are stale within seconds on this
     * table, walks every one of them on every claim (bench/README: 84,600 entries for 600 rows). */
    if (db_exec_command(conn, "SET LOCAL enable_bitmapscan = off", err, errlen) < 0)
        return rollback(conn);
    const char *pick_params[] = {window_text,
                                 max_text,
                                 filter ? "true" : "false",
                                 filter ? filter->salesforce_object : NULL,
                                 filter ? filter->hubspot_object_type_id : NULL,
                                 filter ? filter->hubspot_object_name : NULL,
                                 pairs_of > 0 ? mapping_text : NULL,
                                 pairs_of > 0 ? "true" : "false"};
    PGresult *picked = db_exec(conn, pick_sql, 8, pick_params, err, errlen);
    if (!picked)
        return rollback(conn);
    int rows = PQntuples(picked);
    bool blocked = false;
    while (rows > 0 && PQgetisnull(picked, rows - 1, 0)) { /* the markers */
        if (PQgetisnull(picked, rows - 1, 5)) {
            if (others_due)
                *others_due = true;
        } else {
            blocked = true;
        }
        rows--;
    }
    if (held && hold_links(picked, rows, held) < 0) {
        PQclear(picked);
        snprintf(err, errlen, "out of memory listing the link locks");
        return rollback(conn);
    }
    if (outcome && burst_arriving(picked, rows, max_records, filter)) {
        *outcome = QUEUE_PICK_DEFERRED; /* nothing taken; the link locks are the caller's */
        count_pick(*outcome);
        PQclear(picked);
        return db_exec_command(conn, "COMMIT", err, errlen);
    }
    if (rows == 0) {
        PQclear(picked);
        enum queue_pick none = blocked ? QUEUE_PICK_BLOCKED : QUEUE_PICK_EMPTY;
        if (outcome)
            *outcome = none;
        count_pick(none);
        return db_exec_command(conn, "COMMIT", err, errlen);
    }
    char *json = picked_json(picked);
    PQclear(picked);
    if (!json) {
        snprintf(err, errlen, "out of memory listing the picked records");
        return rollback(conn);
    }
    const char *take_params[] = {json, worker_id, lease_text, pairs_of > 0 ? mapping_text : NULL};
    PGresult *taken = db_exec(conn, take_sql, 4, take_params, err, errlen);
    free(json);
    if (!taken)
        return rollback(conn);
    struct claimed_record *recs = NULL;
    size_t nrec = 0;
    int rc = collect_records(taken, &recs, &nrec);
    PQclear(taken);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory copying the claimed events");
        return rollback(conn); /* nothing claimed: the update is undone */
    }
    PGresult *commit = PQexec(conn, "COMMIT");
    int ok = commit && PQresultStatus(commit) == PGRES_COMMAND_OK;
    PQclear(commit);
    if (!ok) {
        copy_error(conn, "the claim could not be committed", err, errlen);
        queue_claimed_free(recs, nrec);
        return -1;
    }
    *out = recs;
    *n = nrec;
    enum queue_pick got = nrec > 0 ? QUEUE_PICK_TAKEN : QUEUE_PICK_BLOCKED;
    if (outcome)
        *outcome = got;
    count_pick(got);
    return 0;
}

int queue_claim_records_for(PGconn *conn, const char *worker_id,
                            const struct queue_claim_filter *filter, int max_records, int lease_ms,
                            struct claimed_record **out, size_t *n, char *err, size_t errlen)
{
    return claim(conn, worker_id, filter, 0, max_records, lease_ms, out, n, NULL, NULL, NULL, err,
                 errlen);
}

int queue_claim_pairs(PGconn *conn, const char *worker_id, const struct queue_claim_filter *filter,
                      int64_t mapping_id, int max_records, int lease_ms,
                      struct claimed_record **out, size_t *n, bool *others_due,
                      struct queue_pair_locks *held, enum queue_pick *outcome, char *err,
                      size_t errlen)
{
    *held = (struct queue_pair_locks){.mapping_id = mapping_id};
    *outcome = QUEUE_PICK_EMPTY;
    if (!filter || mapping_id < 1) {
        *out = NULL;
        *n = 0;
        *others_due = false;
        snprintf(err, errlen, "a pairs claim needs a mapping filter and a mapping id >= 1");
        return -1;
    }
    return claim(conn, worker_id, filter, mapping_id, max_records, lease_ms, out, n, others_due,
                 held, outcome, err, errlen);
}

int queue_pairs_release(PGconn *conn, struct queue_pair_locks *held, char *err, size_t errlen)
{
    int rc = 0;
    if (held->unknown) {
        snprintf(err, errlen, "link locks of a failed claim are not known");
        rc = -1;
    } else if (held->n > 0) {
        char *ids = id_array(held->links, held->n);
        char mapping[24];
        snprintf(mapping, sizeof mapping, "%" PRId64, held->mapping_id);
        const char *params[] = {mapping, ids};
        PGresult *r =
            ids ? db_exec(conn,
                          "SELECT count(*) FILTER (WHERE NOT pg_advisory_unlock(" QUEUE_RECORD_LOCK
                          ", " PAIR_KEY("$1::bigint", "k") ")) FROM unnest($2::bigint[]) k",
                          2, params, err, errlen)
                : NULL;
        if (!ids)
            snprintf(err, errlen, "out of memory listing the link locks");
        if (!r)
            rc = -1;
        else if (strcmp(PQgetvalue(r, 0, 0), "0") != 0) {
            snprintf(err, errlen, "%s link lock(s) were not held", PQgetvalue(r, 0, 0));
            rc = -1;
        }
        PQclear(r);
        free(ids);
    }
    free(held->links);
    *held = (struct queue_pair_locks){.mapping_id = held->mapping_id};
    return rc;
}

/* "{1,2,3}" for a bigint[] parameter; NULL when out of memory. */
static char *id_array(const int64_t *ids, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_putc(&sb, '{');
    for (size_t i = 0; i < n; i++)
        strbuf_printf(&sb, "%s%" PRId64, i ? "," : "", ids[i]);
    strbuf_putc(&sb, '}');
    if (sb.failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* The events of ids still leased by $2, locked in id order (no deadlock between settlers). */
#define SETTLE_HEAD                                                                                \
    "WITH t AS (SELECT id FROM change_events WHERE id = ANY($1::bigint[])"                         \
    " AND status = 'processing' AND lease_owner = $2"                                              \
    " AND lease_holder IS NOT DISTINCT FROM " HOLDER_SELF " ORDER BY id FOR UPDATE)"               \
    " UPDATE change_events e SET lease_owner = NULL, lease_until = NULL, lease_holder = NULL,"     \
    " lease_pair = NULL, "
#define SETTLE_TAIL                                                                                \
    " FROM t WHERE e.id = t.id AND e.status = 'processing' AND e.lease_owner = $2"                 \
    " AND e.lease_holder IS NOT DISTINCT FROM " HOLDER_SELF

static const char complete_sql[] = SETTLE_HEAD "status = 'done', finished_at = now()" SETTLE_TAIL;
static const char retry_sql[] =
    SETTLE_HEAD "status = 'pending', attempts = e.attempts + 1,"
                " next_attempt_at = now() + $3::bigint * interval '1 millisecond',"
                " last_error = $4" SETTLE_TAIL;
static const char defer_sql[] = SETTLE_HEAD
    "status = 'pending', next_attempt_at = now() + $3::bigint * interval '1 millisecond',"
    " last_error = $4" SETTLE_TAIL;
static const char fail_sql[] =
    SETTLE_HEAD "status = 'failed', attempts = e.attempts + 1, error_category = $3,"
                " last_error = $4, finished_at = now()" SETTLE_TAIL;

static int settle(PGconn *conn, const char *sql, const char *worker_id, const int64_t *ids,
                  size_t n, const char *p3, const char *p4, long *changed, char *err, size_t errlen)
{
    if (changed)
        *changed = 0;
    if (!worker_id || !*worker_id) {
        snprintf(err, errlen, "settling events needs the worker id that claimed them");
        return -1;
    }
    if (n == 0)
        return 0;
    char *array = id_array(ids, n);
    if (!array) {
        snprintf(err, errlen, "out of memory listing event ids");
        return -1;
    }
    const char *params[] = {array, worker_id, p3, p4};
    int nparams = p3 ? 4 : 2;
    PGresult *r = db_exec(conn, sql, nparams, params, err, errlen);
    free(array);
    if (!r)
        return -1;
    if (changed)
        *changed = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int queue_complete(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n, long *changed,
                   char *err, size_t errlen)
{
    return settle(conn, complete_sql, worker_id, ids, n, NULL, NULL, changed, err, errlen);
}

/* Back to pending after delay_ms with last_error: retry_sql counts an attempt, defer_sql not. */
static int settle_later(PGconn *conn, const char *sql, const char *worker_id, const int64_t *ids,
                        size_t n, const char *error, long delay_ms, long *changed, char *err,
                        size_t errlen)
{
    char delay[24];
    snprintf(delay, sizeof delay, "%ld", delay_ms > 0 ? delay_ms : 0L);
    return settle(conn, sql, worker_id, ids, n, delay, error ? error : "", changed, err, errlen);
}

int queue_retry_later(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n,
                      const char *error, long delay_ms, long *changed, char *err, size_t errlen)
{
    return settle_later(conn, retry_sql, worker_id, ids, n, error, delay_ms, changed, err, errlen);
}

int queue_defer(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n,
                const char *error, long delay_ms, long *changed, char *err, size_t errlen)
{
    return settle_later(conn, defer_sql, worker_id, ids, n, error, delay_ms, changed, err, errlen);
}

static const char *const category_names[QUEUE_ERR_CATEGORY_COUNT] = {
    [QUEUE_ERR_VALIDATION] = "validation",
    [QUEUE_ERR_DUPLICATE] = "duplicate",
    [QUEUE_ERR_PERMISSION] = "permission",
    [QUEUE_ERR_ASSOCIATION] = "association",
    [QUEUE_ERR_NOT_FOUND] = "not_found",
    [QUEUE_ERR_CONVERSION] = "conversion",
    [QUEUE_ERR_RETRIES_EXHAUSTED] = "retries_exhausted",
};

const char *queue_error_category_name(enum queue_error_category category)
{
    if ((int)category < 0 || category >= QUEUE_ERR_CATEGORY_COUNT)
        return NULL;
    return category_names[category];
}

int queue_fail(PGconn *conn, const char *worker_id, const int64_t *ids, size_t n,
               enum queue_error_category category, const char *error, long *changed, char *err,
               size_t errlen)
{
    const char *name = queue_error_category_name(category);
    if (!name) {
        if (changed)
            *changed = 0;
        snprintf(err, errlen, "unknown error category %d", (int)category);
        return -1;
    }
    return settle(conn, fail_sql, worker_id, ids, n, name, error ? error : "", changed, err,
                  errlen);
}

long queue_backoff_ms_draw(int attempts, const struct queue_backoff_policy *policy, uint64_t draw)
{
    long base = QUEUE_BACKOFF_DEFAULT_BASE_MS, cap = QUEUE_BACKOFF_DEFAULT_CAP_MS;
    int max_attempts = QUEUE_BACKOFF_DEFAULT_MAX_ATTEMPTS;
    if (policy && policy->base_ms > 0)
        base = policy->base_ms;
    if (policy && policy->cap_ms > 0)
        cap = policy->cap_ms;
    if (policy && policy->max_attempts > 0)
        max_attempts = policy->max_attempts;
    if (attempts < 0)
        attempts = 0;
    if (attempts >= max_attempts - 1)
        return -1;
    /* ceiling = min(cap, base * 2^attempts), doubling without overflow */
    long ceiling = base;
    for (int i = 0; i < attempts && ceiling < cap; i++)
        ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
    if (ceiling > cap)
        ceiling = cap;
    return (long)(draw % ((uint64_t)ceiling + 1));
}

long queue_backoff_ms(int attempts, const struct queue_backoff_policy *policy)
{
    uint64_t draw = 0;
    if (RAND_bytes((unsigned char *)&draw, sizeof draw) != 1)
        draw = UINT64_MAX / 2; /* no randomness: about half the ceiling */
    return queue_backoff_ms_draw(attempts, policy, draw);
}

/* A lease to give back now: it ran out, or its holder's session has ended (nobody holds the
 * holder's liveness key; LIVE_HOLDERS is read once per statement), or its key is $1, the key the
 * calling session has just taken (so any lease stamped with it was left by an ended session).
 * "alias" is the row's alias with its dot. */
#define GONE(a)                                                                                    \
    "(" a "lease_until <= now() OR " a "lease_holder = $1::int OR (" a "lease_holder IS NOT NULL"  \
    " AND " a "lease_holder NOT IN (SELECT k FROM live)))"

/* The same, checked again on the locked, newest version of a row: the holder's key is looked up
 * in pg_locks at that moment, not in the statement's earlier list, so a lease that a new session
 * holding that key created meanwhile is never taken for a dead one. */
#define STILL_GONE(a)                                                                              \
    "(" a "lease_until <= now() OR " a "lease_holder = $1::int OR (" a "lease_holder IS NOT NULL"  \
    " AND NOT EXISTS (" HOLDER_LOCKS " AND l.objid = " a "lease_holder::oid)))"

/* Expired leases and leases of ended holders, of records no claim holds now, locked in id order,
 * skipping rows a worker is settling right now (the next round gets them if they are still
 * gone). */
/* clang-format off */
static const char release_sql[] =
    "WITH live AS MATERIALIZED (SELECT l.objid::bigint AS k FROM pg_locks l WHERE TRUE"
    "  AND " HOLDER_LOCK_ROW("l.") "),"
    " gone AS MATERIALIZED ("
    " SELECT DISTINCT source, object_type, record_id FROM change_events"
    " WHERE status = 'processing' AND " GONE("") " AND record_id IS NOT NULL),"
    " mine AS MATERIALIZED ("
    " SELECT * FROM gone WHERE " RECORD_XACT_LOCK "),"
    " t AS ("
    " SELECT e.id FROM change_events e WHERE e.status = 'processing' AND " GONE("e.")
    " AND (e.record_id IS NULL OR EXISTS (SELECT 1 FROM mine m WHERE m.source = e.source"
    "  AND m.object_type = e.object_type AND m.record_id = e.record_id))"
    " ORDER BY e.id FOR UPDATE SKIP LOCKED)"
    " UPDATE change_events e SET status = 'pending', next_attempt_at = now(),"
    " attempts = e.attempts + 1,"
    " last_error = CASE WHEN e.lease_until <= now() THEN 'the lease of worker ' || e.lease_owner"
    "  || ' expired before it settled the event' ELSE 'worker ' || e.lease_owner"
    "  || ' ended (its session is gone) before it settled the event' END,"
    " lease_owner = NULL, lease_until = NULL, lease_holder = NULL, lease_pair = NULL"
    " FROM t WHERE e.id = t.id AND e.status = 'processing' AND " STILL_GONE("e.");
/* clang-format on */

static int release(PGconn *conn, const char *own_key, long *released, char *err, size_t errlen)
{
    if (released)
        *released = 0;
    const char *params[] = {own_key};
    PGresult *r = db_exec(conn, release_sql, 1, params, err, errlen);
    if (!r)
        return -1;
    if (released)
        *released = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int queue_release_expired(PGconn *conn, long *released, char *err, size_t errlen)
{
    return release(conn, NULL, released, err, errlen);
}

int queue_holder_take(PGconn *conn, int32_t *key, long *released, char *err, size_t errlen)
{
    *key = 0;
    if (released)
        *released = 0;
    for (int attempt = 0; attempt < 16; attempt++) {
        uint32_t draw = 0;
        if (RAND_bytes((unsigned char *)&draw, sizeof draw) != 1) {
            snprintf(err, errlen, "no randomness for a lease holder key");
            return -1;
        }
        int32_t k = (int32_t)(draw % 2147483646u) + 1; /* 1 .. 2^31-1 */
        char text[16];
        snprintf(text, sizeof text, "%" PRId32, k);
        const char *params[] = {text};
        PGresult *r = db_exec(conn, holder_take_sql, 1, params, err, errlen);
        if (!r)
            return -1;
        bool got = !PQgetisnull(r, 0, 0);
        PQclear(r);
        if (!got)
            continue; /* a live session holds this key: draw another */
        *key = k;
        return release(conn, text, released, err, errlen);
    }
    snprintf(err, errlen, "no free lease holder key after 16 draws");
    return -1;
}

/* One batch per status: the literal status lets the planner use change_events_finished_at. */
static const char *const prune_sql[] = {
    "DELETE FROM change_events WHERE id IN (SELECT id FROM change_events"
    " WHERE status = 'done' AND finished_at < now() - $1::bigint * interval '1 second'"
    " ORDER BY finished_at LIMIT $2::int FOR UPDATE SKIP LOCKED)",
    "DELETE FROM change_events WHERE id IN (SELECT id FROM change_events"
    " WHERE status = 'failed' AND finished_at < now() - $1::bigint * interval '1 second'"
    " ORDER BY finished_at LIMIT $2::int FOR UPDATE SKIP LOCKED)",
};

int queue_prune(PGconn *conn, int batch, int max_batches, long done_retention_s,
                long failed_retention_s, long *deleted, char *err, size_t errlen)
{
    if (deleted)
        *deleted = 0;
    if (batch < 1 || max_batches < 1 || done_retention_s < 0 || failed_retention_s < 0) {
        snprintf(err, errlen, "pruning needs batch >= 1, max_batches >= 1 and retentions >= 0");
        return -1;
    }
    char batch_text[24], retention[2][24];
    snprintf(batch_text, sizeof batch_text, "%d", batch);
    snprintf(retention[0], sizeof retention[0], "%ld", done_retention_s);
    snprintf(retention[1], sizeof retention[1], "%ld", failed_retention_s);
    long total = 0;
    for (size_t s = 0; s < sizeof prune_sql / sizeof prune_sql[0]; s++) {
        long got = batch;
        for (int batches = 0; got == batch && batches < max_batches; batches++) {
            const char *params[] = {retention[s], batch_text};
            PGresult *r = db_exec(conn, prune_sql[s], 2, params, err, errlen);
            if (!r) {
                if (deleted)
                    *deleted = total;
                return -1;
            }
            got = strtol(PQcmdTuples(r), NULL, 10);
            PQclear(r);
            total += got;
        }
    }
    if (deleted)
        *deleted = total;
    return 0;
}
