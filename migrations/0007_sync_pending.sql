-- 0007_sync_pending.sql: the writes a sync batch is about to make to a linked pair, stored before
-- they are sent (sync/sync_batch.c, write-ahead). NULL when nothing is in flight. A crash between
-- a CRM's acknowledgement and the batch's commit leaves it: the next sync of the pair compares
-- each written field's current value with the value read before the write, and takes the
-- pending base for the fields whose write landed (sync/sync_base.c), so a user's edit made
-- meanwhile is not mistaken for a conflict. Every save of the link's values clears it.
-- {"sf_read": {field: value read before writing it}, "hs_read": {property: text},
--  "sf_base": {...}, "hs_base": {...}}: the bases the pair has once every write landed.
ALTER TABLE sync_links ADD COLUMN pending jsonb;
