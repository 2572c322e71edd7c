-- 0019: the queue's depth per status, counted once for every instance. Each instance's janitor
-- published synkro_queue_depth by counting change_events per status every 5 s, so N instances
-- counted N times (about 6% of PostgreSQL's statement time in a burst with three); now whichever
-- instance finds the counts older than their age counts them (one at a time, under a transaction
-- advisory lock) and the others read them from here (db/queue.c, queue_depth).
CREATE TABLE queue_depth_counts (
    status     text        PRIMARY KEY,
    events     bigint      NOT NULL,
    counted_at timestamptz NOT NULL
);
