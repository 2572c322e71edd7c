-- 0011_lease_holders.sql: who holds a lease, as a liveness key (db/queue_claim.c).
-- A claiming session holds the session-level advisory lock (1934713711, lease_holder) for its
-- whole life and stamps its claims with that key; a lease whose key nobody holds any more belongs
-- to a session that has ended (a killed process), and is released at once instead of after
-- lease_until. NULL: claimed by a session without a key (only lease_until applies).
ALTER TABLE change_events ADD COLUMN lease_holder integer;
