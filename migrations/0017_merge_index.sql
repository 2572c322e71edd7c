-- 0017: the unfinished HubSpot merge events, in an index of their own. A pairs claim
-- (db/queue_claim.c) must leave a record with an unfinished merge to the mapping's exclusive
-- claim, and it asked that of every due record it read (up to eight per record it takes) through
-- change_events_active_record plus a heap fetch: about a third of the claim's time in a burst.
-- Merges are rare, so this index is nearly always empty: "is any merge unfinished?" is one page
-- read, and only when one is does the claim look record by record (here too). Only merge rows
-- ever enter it, so it costs nothing to the other events' inserts and updates.
CREATE INDEX change_events_merge_open ON change_events (source, object_type, record_id)
    WHERE kind = 'merge' AND status IN ('pending', 'processing');
