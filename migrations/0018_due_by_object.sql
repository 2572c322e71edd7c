-- 0018: the due events of each object, in due order. A mapping's claims (db/queue_claim.c) read
-- the oldest due events of that mapping's objects only. Through change_events_due (all objects)
-- such a read walked every due event of the other mappings ahead of its own, and through the
-- per-object change_events_object_open (received order) it read all of its object's pending
-- events to sort them; with (source, lower(object_type)) first and due order after, each read
-- stops at the claim's window. Only pending rows are in it, like change_events_due.
CREATE INDEX change_events_due_object ON change_events (source, lower(object_type), next_attempt_at, id)
    WHERE status = 'pending';
