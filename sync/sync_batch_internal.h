/* sync_batch_internal.h: the working state of one sync batch (struct sync_batch, its pairs) and the
 * functions the batch's files share: sync_batch.c (the steps and the commit), sync_read.c,
 * sync_write.c, sync_payload.c and sync_outcome.c. Nothing outside sync/ includes it
 * (tests/scripts/check_layers.sh refuses that); the engine and tests see sync_batch.h only.
 *
 * Must not: be included outside sync/. */
#ifndef SYNKRO_SYNC_SYNC_BATCH_INTERNAL_H
#define SYNKRO_SYNC_SYNC_BATCH_INTERNAL_H

#include "sync/sync_batch.h"

enum pair_state { PAIR_PENDING = 0, PAIR_DONE, PAIR_RETRY, PAIR_FAIL };

enum pair_outcome {
    OUT_UNCHANGED = 0,
    OUT_SYNCED,
    OUT_CREATED,
    OUT_DELETED,
};

struct sync_pair {
    char *sf_id;                  /* heap; NULL: none known */
    char *hs_id;                  /* heap */
    const struct sync_link *link; /* borrowed from the batch's links; NULL: not linked */
    size_t *recs;                 /* indices of the batch's records */
    size_t nrecs;
    bool absorbed; /* merged into another pair: ignore */
    bool piece;    /* its record was claimed as an import piece (claimed_record.piece) */
    bool from_sf;  /* Salesforce events in the pair */
    bool from_hs;
    bool del_sf; /* the Salesforce record's last word is a delete */
    bool del_hs;
    bool restore; /* a HubSpot restore is the last word */
    bool need_sf_read, need_hs_read;
    json_object *sf_rec;         /* owned; NULL: missing or unread */
    json_object *hs_props;       /* owned (a reference to the read's properties) */
    bool sf_missing, hs_missing; /* read and found missing */
    struct merge_output out;
    bool merged;
    bool created_hs, created_sf;
    bool wrote_hs, wrote_sf;
    int64_t written_ms; /* epoch ms when the CRM acknowledged the pair's writes; 0: none yet */
    bool mark_deleted;
    bool delete_sf, delete_hs; /* delete the other record (on_delete delete) */
    bool deletes_sent;         /* sync_write_deletes handled delete_sf / delete_hs */
    bool gone_sf, gone_hs;     /* a write found that record deleted: settled as its delete */
    int64_t read_ms;           /* epoch ms when the pair's records were last read; 0: never */
    /* owned: the bases to merge against when the link held a write-ahead record of a batch cut
     * short (sync_base_resolve_pending); NULL: the link's own sf_values / hs_values */
    json_object *base_sf, *base_hs;
    bool pending_stored; /* this batch stored the link's write-ahead record (sync_write.c) */
    /* The association step has its own outcome: it never turns a finished field sync into a
     * failure. PAIR_PENDING: fine (or no associations); PAIR_RETRY / PAIR_FAIL: the pair's
     * association events (or a follow-up event) retry or fail, its field events complete. */
    enum pair_state assoc_state;
    enum queue_error_category assoc_category;
    long assoc_retry_after_ms;
    char assoc_error[640];
    json_object *hs_extra; /* owned: identity property to write to HubSpot; NULL: none */
    json_object *sf_extra; /* owned: identity field to write to Salesforce */
    const char *skip;      /* why the pair was settled without a sync (static text: "echo",
                              "link_deleted", "delete_unlinked", "salesforce_missing",
                              "hubspot_missing"); NULL: not skipped */
    enum pair_state state;
    enum pair_outcome outcome;
    enum queue_error_category category;
    long retry_after_ms;
    /* PAIR_RETRY only because a CRM client's budget held a call back (crm_error_is_hold_back):
     * the events wait without counting an attempt, so a long daily stop never fails them */
    bool held_back;
    char error[640];
};

struct sync_batch {
    const struct sync_env *env;
    const struct sync_mapping *sm;
    struct claimed_record *recs;
    size_t nrecs;
    struct sync_link *links;
    size_t nlinks;
    struct sync_link *adopted_links; /* links found for ids learnt by adoption (sync_read.c) */
    size_t nadopted_links;
    struct sync_pair *pairs;
    size_t npairs;
    struct sync_batch_report *rep;
    /* One random draw for every back-off of this batch (queue_backoff_ms_draw): the records of a
     * batch that failed together (a batch call refused, a 429) become due together again and are
     * claimed again as one batch, not one by one by every idle worker of every instance. */
    uint64_t retry_draw;
};

/* Pair failures: a CRM error (classified: retry or fail with a category), or a plain one. */
void sync_pair_fail_crm(struct sync_pair *p, const struct crm_error *e, const char *what);
void sync_pair_fail(struct sync_pair *p, enum queue_error_category category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The association step's outcome of a pair whose fields synced (sync_outcome.c): a CRM error
 * (retry, or fail with the association category), or a target not synced yet (retry, reason
 * kept). The first retryable reason is kept; a permanent one replaces it. */
void sync_pair_assoc_fail(struct sync_pair *p, const struct crm_error *e, const char *what);
void sync_pair_assoc_wait(struct sync_pair *p, const char *reason);

/* Moves src's records, flags, reads and ids into dst (where dst has none); src becomes absorbed. */
void sync_pair_absorb(struct sync_pair *dst, struct sync_pair *src);
/* The pending pair (not absorbed) whose Salesforce id / HubSpot id is id, other than except. */
struct sync_pair *sync_pair_by_sf(struct sync_batch *b, const char *id,
                                  const struct sync_pair *except);
struct sync_pair *sync_pair_by_hs(struct sync_batch *b, const char *id,
                                  const struct sync_pair *except);
/* True when two Salesforce ids name one record (15-character prefixes equal). */
bool sync_sf_id_equal(const char *a, const char *b);

/* sync_read.c: reads every pending pair's records (need_*_read), then adopts by identity and
 * reads the adopted side. */
void sync_read_pairs(struct sync_batch *b);
/* sync_write.c: deletes of pairs marked delete_*; creates, updates and identity writes of
 * merged pending pairs. */
void sync_write_deletes(struct sync_batch *b);
void sync_write_pairs(struct sync_batch *b);
/* sync_read.c: reads again the records of pending pairs flagged need_sf_read / need_hs_read
 * (a read grown stale before its write, or a record a write found gone); no adoption. */
void sync_read_again(struct sync_batch *b);

/* The bases p merges against: the resolved ones (base_sf / base_hs), else the link's; NULL when
 * the pair has no link. */
json_object *sync_pair_sf_base(const struct sync_pair *p);
json_object *sync_pair_hs_base(const struct sync_pair *p);

/* True when conflict mc of p is recorded at the commit (sync_conflicts and the history): the pair
 * has a base to store and the conflict's resolution is in it (sync_batch.c). */
bool sync_pair_conflict_recorded(const struct sync_batch *b, const struct sync_pair *p,
                                 const struct merge_conflict *mc);

/* sync_history.c: appends the history of every pair of the batch (its events, the merge's field
 * decisions, writes, conflicts, errors, association outcome, skips) in one statement, on the
 * batch's connection inside its commit transaction, behind a savepoint. link_ids[i] is pair i's
 * stored link (0: none). 0; 1 when the rows were refused and left out (err says why; the
 * transaction goes on); -1 with err when the transaction is lost. */
int sync_history_store(const struct sync_batch *b, const int64_t *link_ids, char *err,
                       size_t errlen);

/* sync_payload.c: true when p (linked, link active, pending) is an echo: every claimed event
 * carries its values and they all equal the link's base (settle it unchanged, no CRM call). */
bool sync_pair_is_echo(const struct sync_batch *b, const struct sync_pair *p);

#endif
