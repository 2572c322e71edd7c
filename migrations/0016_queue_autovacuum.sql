-- 0016: autovacuum and autoanalyze of the change_events queue at 2% of its rows instead of
-- PostgreSQL's 20% / 10%: every event's row is rewritten as it is claimed and settled (status is
-- indexed, so no update is HOT), and the claims' plans rest on the statistics of a table whose
-- open part changes completely within seconds. The janitor also vacuums it by itself once
-- SYNKRO_QUEUE_VACUUM_DEAD_ROWS dead rows pile up (db/queue_vacuum.h); these settings cover an
-- installation that turned that off, and the analyses the janitor does not run.
ALTER TABLE change_events SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 2
);
