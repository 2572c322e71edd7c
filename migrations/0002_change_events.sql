-- 0002_change_events.sql: the durable queue of change events from both CRMs.
-- One row per change notification (Salesforce Notification, HubSpot event),
-- deduplicated by idempotency_key. Workers claim due rows with SKIP LOCKED.
CREATE TABLE change_events (
    id              bigserial PRIMARY KEY,
    source          text        NOT NULL CHECK (source IN ('salesforce', 'hubspot')),
    idempotency_key text        NOT NULL,
    object_type     text        NOT NULL,
    record_id       text,
    kind            text        NOT NULL CHECK (kind IN ('create', 'update', 'delete', 'association',
                                                         'merge', 'restore', 'unknown')),
    occurred_at     timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'unmapped', 'held', 'processing', 'done', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    payload         jsonb       NOT NULL,
    CONSTRAINT change_events_idempotency_key UNIQUE (idempotency_key)
);

-- "claim the oldest due events": only due rows are indexed, so the index
-- stays small however many done rows the table holds.
CREATE INDEX change_events_due ON change_events (next_attempt_at, id) WHERE status = 'pending';
-- "events of this record", in order of occurrence
CREATE INDEX change_events_record ON change_events (source, object_type, record_id, occurred_at, id);
-- admin listing by status with id paging
CREATE INDEX change_events_status ON change_events (status, id);
