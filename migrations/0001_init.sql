-- 0001_init.sql: the instance record.
-- schema_migrations itself is created by the migration runner.
CREATE TABLE synkro_instance (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    description text NOT NULL DEFAULT 'synkro: Salesforce <-> HubSpot custom object sync'
);
INSERT INTO synkro_instance DEFAULT VALUES;
