-- 0021: the link a pairs claim leased an event under (db/queue_claim.c). Every claim asks "which
-- links have a record leased now?" (LEASED_PAIRS), and answered it by looking up the link of
-- every leased record: one sync_links probe per processing row, each pick and take (a few ms at
-- 1,600 leased rows, three instances in a burst). A pairs claim knows the link it takes, so it
-- keeps it on the event while leased; only events leased without one (claims of whole records)
-- are still looked up. NULL when not leased by a pairs claim (settling clears it).
ALTER TABLE change_events ADD COLUMN lease_pair bigint;
