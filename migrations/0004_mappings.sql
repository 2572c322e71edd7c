-- 0004_mappings.sql: sync mappings (versioned documents) and their history.
-- The document is the admin API's JSON (sync/mapping.h); id, version and
-- state live in columns so they can be checked and indexed.
CREATE TABLE mappings (
    id                bigserial   PRIMARY KEY,
    name              text        NOT NULL,
    state             text        NOT NULL DEFAULT 'draft'
                      CHECK (state IN ('draft', 'enabled', 'paused')),
    salesforce_object text        NOT NULL,
    hubspot_object    text        NOT NULL,
    -- objectTypeId of hubspot_object as resolved by the last validation
    -- (hubspot_object may be a fully qualified name); webhooks carry the id
    hubspot_object_type_id text,
    version           integer     NOT NULL DEFAULT 1,
    document          jsonb       NOT NULL,
    problems          jsonb       NOT NULL DEFAULT '[]',
    validated_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mappings_salesforce_object ON mappings (lower(salesforce_object));
CREATE UNIQUE INDEX mappings_hubspot_object ON mappings (lower(hubspot_object));

-- Every change: who, when, what (the new document and a list of changed paths).
-- No foreign key, so the history of a deleted mapping is kept.
CREATE TABLE mapping_history (
    id         bigserial   PRIMARY KEY,
    mapping_id bigint      NOT NULL,
    version    integer     NOT NULL,
    action     text        NOT NULL
               CHECK (action IN ('create', 'update', 'enable', 'pause', 'delete', 'import')),
    actor      text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    document   jsonb,
    changes    jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX mapping_history_mapping ON mapping_history (mapping_id, id);
