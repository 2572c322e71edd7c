-- pgbench_insert.sql: the database commit ceiling of bench/ingest.sh, phase (b).
-- One transaction = one single-row INSERT (autocommit) into bench_pgbench, a copy of
-- change_events with every index and constraint, with the same row shape and payload size as
-- one HubSpot event stored by synkro (and the same ON CONFLICT ... RETURNING).
\set r random(1, 9000000000000000)
INSERT INTO bench_pgbench (source, idempotency_key, object_type, record_id, kind, occurred_at,
                           status, payload)
VALUES ('hubspot', 'pgb:' || :client_id || ':' || :r, '2-9002', (:r)::text, 'update', now(),
        'unmapped',
        '{"eventId":1000000,"subscriptionId":4242,"portalId":62515,"appId":77,"occurredAt":1714600000000,"subscriptionType":"object.propertyChange","attemptNumber":0,"objectId":2000000000000,"objectTypeId":"2-9002","propertyName":"budget","propertyValue":"Käse 2000000000000","changeSource":"CRM_UI","sourceId":"userId:1234567"}')
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id;
