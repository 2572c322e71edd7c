-- 0005_queue_claims.sql: what sync workers need to claim change events (db/queue_claim.c).
-- A claimed event is 'processing' under a lease (owner + expiry): a crashed worker's events come
-- back when the lease runs out. Finished events (done, failed) carry finished_at so that pruning
-- finds the old ones by index; failed ones carry the category of the CRM's error.
ALTER TABLE change_events
    ADD COLUMN lease_owner    text,
    ADD COLUMN lease_until    timestamptz,
    ADD COLUMN finished_at    timestamptz,
    ADD COLUMN error_category text
        CHECK (error_category IN ('validation', 'duplicate', 'permission', 'association',
                                  'not_found', 'conversion', 'retries_exhausted'));

-- No code set these statuses before this migration; settle any row a person may have set by hand.
UPDATE change_events SET finished_at = received_at
 WHERE status IN ('done', 'failed') AND finished_at IS NULL;
UPDATE change_events SET status = 'pending'
 WHERE status = 'processing';

ALTER TABLE change_events
    ADD CONSTRAINT change_events_lease CHECK (status <> 'processing'
        OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL)),
    ADD CONSTRAINT change_events_finished CHECK (status NOT IN ('done', 'failed')
        OR finished_at IS NOT NULL);

-- "unfinished events of this record": the lease check and the coalescing of a claim look only at
-- pending and processing rows, however many done rows a record has.
CREATE INDEX change_events_active_record ON change_events (source, object_type, record_id,
    occurred_at, id) WHERE status IN ('pending', 'processing');
-- "leases that ran out" and "records leased now": only rows being processed are indexed.
CREATE INDEX change_events_leased ON change_events (lease_until) WHERE status = 'processing';
-- pruning: old finished rows, oldest first, by status.
CREATE INDEX change_events_finished_at ON change_events (status, finished_at)
    WHERE status IN ('done', 'failed');
