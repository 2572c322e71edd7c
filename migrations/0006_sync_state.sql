-- 0006_sync_state.sql: what the sync engine remembers between events: the linked record pairs with
-- their last-synced values, the conflicts it resolved, the sweep cursors, and imports.

-- One row per linked pair of one mapping. sf_values / hs_values hold the mapped fields as each
-- side held them right after the last sync (Salesforce REST JSON values by field API name,
-- HubSpot property text by property name): the base of the three-way merge (sync/sync_merge.c).
-- No foreign key to mappings: an import of mappings replaces rows but keeps ids.
CREATE TABLE sync_links (
    id            bigserial   PRIMARY KEY,
    mapping_id    bigint      NOT NULL,
    salesforce_id text,                      -- 18-character id; NULL until created
    hubspot_id    text,                      -- record id; NULL until created
    state         text        NOT NULL DEFAULT 'active'
                  CHECK (state IN ('active', 'deleted')),
    sf_values     jsonb       NOT NULL DEFAULT '{}',
    hs_values     jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    synced_at     timestamptz,
    CHECK (salesforce_id IS NOT NULL OR hubspot_id IS NOT NULL)
);
CREATE UNIQUE INDEX sync_links_salesforce ON sync_links (mapping_id, salesforce_id)
    WHERE salesforce_id IS NOT NULL;
CREATE UNIQUE INDEX sync_links_hubspot ON sync_links (mapping_id, hubspot_id)
    WHERE hubspot_id IS NOT NULL;

-- Every conflict: a field changed on both sides to different values since the last sync.
CREATE TABLE sync_conflicts (
    id               bigserial   PRIMARY KEY,
    mapping_id       bigint      NOT NULL,
    link_id          bigint,
    salesforce_id    text,
    hubspot_id       text,
    salesforce_field text        NOT NULL,
    hubspot_property text        NOT NULL,
    salesforce_value jsonb,                  -- Salesforce REST JSON value (null = blank)
    hubspot_value    text,                   -- HubSpot property text ("" = blank)
    winner           text        NOT NULL CHECK (winner IN ('salesforce', 'hubspot')),
    reason           text        NOT NULL,   -- field_rule | conflict_winner | blank
    occurred_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_conflicts_mapping ON sync_conflicts (mapping_id, id);
CREATE INDEX sync_conflicts_occurred ON sync_conflicts (occurred_at);

-- Where each mapping's reconciliation sweep got to, per CRM (an ISO 8601 instant).
CREATE TABLE sync_cursors (
    mapping_id bigint      NOT NULL,
    source     text        NOT NULL CHECK (source IN ('salesforce', 'hubspot')),
    kind       text        NOT NULL CHECK (kind IN ('updated', 'deleted')),
    position   text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mapping_id, source, kind)
);

-- Imports of existing records (the wizard's last step), paged into the queue.
CREATE TABLE sync_imports (
    id          bigserial   PRIMARY KEY,
    mapping_id  bigint      NOT NULL,
    direction   text        NOT NULL
                CHECK (direction IN ('salesforce_to_hubspot', 'hubspot_to_salesforce')),
    status      text        NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    actor       text        NOT NULL DEFAULT 'admin',
    total       bigint,                      -- estimate when started
    queued      bigint      NOT NULL DEFAULT 0,
    synced      bigint      NOT NULL DEFAULT 0,
    failed      bigint      NOT NULL DEFAULT 0,
    position    text,                        -- paging position (last id queued)
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE INDEX sync_imports_active ON sync_imports (id) WHERE status IN ('queued', 'running');

-- Events queued by an import carry its id, so it can count what is done and keep a bounded number
-- waiting.
ALTER TABLE change_events ADD COLUMN import_id bigint;
CREATE INDEX change_events_import ON change_events (import_id, status) WHERE import_id IS NOT NULL;
