-- 0020: room on every page of sync_links for the next version of its rows. A link row is
-- rewritten by every batch that syncs its pair (the write-ahead record, then the last synced
-- values), and unless its name changes (the label, an indexed column) never in an indexed column,
-- so each such update can be a heap-only tuple (no new entry in the table's five indexes) when its
-- page has room. At the default fillfactor (100) pages are full: 9% of a bench-scale run's 40,000
-- link updates and 3% of test_link_rewrites_are_heap_only's were heap-only; at 60, 88% of the
-- test's (70: 72%, 50: over 90%, at twice the table's size). Applies to pages written from now on
-- (an existing table's pages get the room as they are rewritten, or at once with VACUUM FULL).
ALTER TABLE sync_links SET (fillfactor = 60);
