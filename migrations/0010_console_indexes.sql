-- 0010_console_indexes.sql: indexes for the console's data (GET /api/mappings/{id}/health and
-- the /api/conflicts filters), so each answer reads only the rows it shows, however many events,
-- links and conflicts the database holds (bench/console_data measures it).
--
-- A mapping's events are those of its Salesforce object (source 'salesforce', object type equal
-- ignoring case) and of its HubSpot object type id (source 'hubspot'): the rule of
-- db/mapping_store.c's reclassification. Each index leads with (source, lower(object_type)) and
-- carries object_type itself, which PostgreSQL needs before it plans an index-only scan over an
-- expression index.

-- throughput and latency: events finished in a window, per mapping
CREATE INDEX change_events_object_finished ON change_events (source, lower(object_type), finished_at)
    INCLUDE (status, received_at, object_type) WHERE status IN ('done', 'failed');
-- queue depth and the age of the oldest pending event, per mapping
CREATE INDEX change_events_object_open ON change_events (source, lower(object_type), status,
    received_at) INCLUDE (object_type) WHERE status IN ('pending', 'processing', 'held');
-- failures by category with their newest examples, per mapping
CREATE INDEX change_events_object_failed ON change_events (source, lower(object_type),
    error_category, finished_at) INCLUDE (object_type) WHERE status = 'failed';

-- conflicts of a mapping in a window, and the conflicts list filtered by a record
CREATE INDEX sync_conflicts_mapping_occurred ON sync_conflicts (mapping_id, occurred_at);
CREATE INDEX sync_conflicts_salesforce ON sync_conflicts (salesforce_id, id);
CREATE INDEX sync_conflicts_salesforce15 ON sync_conflicts (left(salesforce_id, 15), id);
CREATE INDEX sync_conflicts_hubspot ON sync_conflicts (hubspot_id, id);

-- /api/errors: failed events per category (counts, oldest, newest from the index alone) and the
-- newest examples of each category (a backward scan of it), of all mappings
CREATE INDEX change_events_failed_category ON change_events (error_category, finished_at)
    WHERE status = 'failed';
