-- 0014_health_rollup.sql: the finished events of each object in five-minute periods, so that the
-- console's long health windows (GET /api/mappings/{id}/health?minutes= over 180, in 300 or 900 s
-- buckets) read a few thousand rows instead of every event of the day (issue 12, "Fast at
-- scale": the 24-hour window read ~460,000 index entries per mapping and took 500-640 ms).
--
-- One row per (source, lower(object_type), period, latency bin): how many events finished 'done'
-- and 'failed' in the period with a latency (finished_at - received_at) in the bin. Bin 0 holds
-- latencies under 1 ms, bin k >= 1 those in [2^((k-1)/8), 2^(k/8)) ms (9% wide), so percentiles
-- come out within a bin's width (db/health_stats.c interpolates inside the bin).
--
-- The janitor keeps it (db/health_rollup.c): each time a period ends it recomputes the periods from
-- rolled_to minus 15 minutes (events whose transaction committed late) up to the last period
-- that ended two minutes ago, an hour per transaction, and moves rolled_to; rows older than two days
-- go (the API looks back one day at most). Reads take the periods before rolled_to from here and
-- the events after it from change_events, so an answer is complete whatever the janitor's lag.
-- rolled_to NULL (a fresh install, or reset by a test or the benchmark) rebuilds from the oldest
-- finished event of the last two days.
CREATE TABLE health_periods (
    source      text        NOT NULL CHECK (source IN ('salesforce', 'hubspot')),
    object_key  text        NOT NULL,          -- lower(change_events.object_type)
    period      timestamptz NOT NULL,          -- start, a multiple of 300 s since the epoch
    bin         smallint    NOT NULL,
    synced      integer     NOT NULL,
    failed      integer     NOT NULL,
    PRIMARY KEY (source, object_key, period, bin)
);
CREATE INDEX health_periods_period ON health_periods (period);

CREATE TABLE health_rollup_state (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    rolled_to timestamptz                       -- periods before it are in health_periods
);
INSERT INTO health_rollup_state (only_row, rolled_to) VALUES (true, NULL);
