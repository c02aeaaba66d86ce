-- The venue mesh (docs/adr/0024-venue-mesh.md): each device's own Ed25519 public key, which
-- the server certified at enrollment (NULL: a device that does not mesh). Gates learn every
-- device of their event with its key and status from the feed, as part of the event: a
-- device enrolled, enrolled again, renamed, re-keyed, revoked or moved to another event is an
-- event change. The frequent bookkeeping updates (last seen, cursor, skew, queue, counts)
-- touch none of these columns and add nothing to the feed.
ALTER TABLE devices ADD COLUMN public_key BLOB CHECK (public_key IS NULL OR length(public_key) = 32);

CREATE TRIGGER feed_device_insert AFTER INSERT ON devices BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at)
    VALUES (NEW.event_id, 'event', NEW.event_id, unixepoch());
END;
CREATE TRIGGER feed_device_update AFTER UPDATE OF status, public_key, name, event_id ON devices
WHEN OLD.status IS NOT NEW.status OR OLD.public_key IS NOT NEW.public_key
    OR OLD.name IS NOT NEW.name OR OLD.event_id IS NOT NEW.event_id
BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at)
    VALUES (NEW.event_id, 'event', NEW.event_id, unixepoch());
END;
-- A device moved to another event leaves its old event's list.
CREATE TRIGGER feed_device_moved AFTER UPDATE OF event_id ON devices
WHEN OLD.event_id IS NOT NEW.event_id
BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at)
    VALUES (OLD.event_id, 'event', OLD.event_id, unixepoch());
END;

-- Devices enrolled before this migration: their events' gates learn the list once.
INSERT INTO changes (event_id, kind, entity, created_at)
SELECT DISTINCT event_id, 'event', event_id, unixepoch() FROM devices ORDER BY event_id;
