-- 0009_sync_history.sql: each record's history (issue 12, "A record's history"): one row per
-- thing the sync engine did or saw for a linked pair: an event received and settled, a field
-- decision (which way, which rule), a write, a conflict with its winner, an error, an association
-- step, a skip. The engine appends a batch's rows in one statement inside the batch's commit
-- transaction (db/history_store.c); the janitor prunes rows older than SYNKRO_HISTORY_RETENTION
-- days. GET /api/records/{id}/timeline reads them newest first by keyset (id).
--
-- link_id is NULL when the pair had no link yet (a create that failed): such rows are found by
-- the record ids of their mapping once the link exists (the two partial indexes).
CREATE TABLE sync_history (
    id            bigserial   PRIMARY KEY,
    mapping_id    bigint      NOT NULL,
    link_id       bigint,
    salesforce_id text,
    hubspot_id    text,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    kind          text        NOT NULL CHECK (kind IN ('event', 'decision', 'write', 'conflict',
                                                       'error', 'association', 'skip')),
    side          text        CHECK (side IN ('salesforce', 'hubspot')),
    actor         text,
    event_id      bigint,                    -- the change event concerned, when one is
    summary       text        NOT NULL,      -- one human sentence
    details       jsonb       NOT NULL DEFAULT '{}'
);
-- a link's timeline, newest first (keyset on id)
CREATE INDEX sync_history_link ON sync_history (link_id, id) WHERE link_id IS NOT NULL;
-- rows recorded before the pair had a link
CREATE INDEX sync_history_unlinked_sf ON sync_history (mapping_id, salesforce_id, id)
    WHERE link_id IS NULL AND salesforce_id IS NOT NULL;
CREATE INDEX sync_history_unlinked_hs ON sync_history (mapping_id, hubspot_id, id)
    WHERE link_id IS NULL AND hubspot_id IS NOT NULL;
-- retention pruning, oldest first
CREATE INDEX sync_history_occurred ON sync_history (occurred_at);

-- The console finds a record by either id (of any mapping) or by the text of its label: a name
-- the record carries in its last-synced values (the usual name, email and domain fields of both
-- CRMs), kept by PostgreSQL itself.
ALTER TABLE sync_links ADD COLUMN label text GENERATED ALWAYS AS (
    COALESCE(NULLIF(sf_values->>'Name', ''), NULLIF(hs_values->>'name', ''),
             NULLIF(btrim(COALESCE(hs_values->>'firstname', '') || ' '
                          || COALESCE(hs_values->>'lastname', '')), ''),
             NULLIF(btrim(COALESCE(sf_values->>'FirstName', '') || ' '
                          || COALESCE(sf_values->>'LastName', '')), ''),
             NULLIF(hs_values->>'email', ''), NULLIF(sf_values->>'Email', ''),
             NULLIF(hs_values->>'domain', ''), NULLIF(sf_values->>'Website', ''),
             NULLIF(sf_values->>'Subject', ''), NULLIF(hs_values->>'subject', ''))) STORED;
CREATE INDEX sync_links_label ON sync_links (lower(label) text_pattern_ops, id)
    WHERE label IS NOT NULL;
-- The ids are found through the unique (mapping_id, salesforce_id / hubspot_id) indexes of 0006,
-- one probe per mapping; a 15-character Salesforce id through this one.
CREATE INDEX sync_links_salesforce15 ON sync_links (mapping_id, left(salesforce_id, 15))
    WHERE salesforce_id IS NOT NULL;
