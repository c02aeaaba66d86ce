-- The venue mesh (docs/adr/0024-venue-mesh.md): each device's own Ed25519 public key, which
-- the server certified at enrollment (NULL: a device that does not mesh). Gates learn every
-- device of their event with its key and status from the feed, as part of the event: a
-- device enrolled, enrolled again, renamed, re-keyed, revoked or moved to another event is an
-- event change, appended under the feed lock like every other (feed_append, 0002). The
-- frequent bookkeeping updates (last seen, cursor, skew, queue, counts) touch none of these
-- columns and add nothing to the feed.
ALTER TABLE devices ADD COLUMN public_key BYTEA CHECK (public_key IS NULL OR length(public_key) = 32);

CREATE FUNCTION feed_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A device moved to another event leaves its old event's list.
    IF TG_OP = 'UPDATE' AND OLD.event_id IS DISTINCT FROM NEW.event_id THEN
        PERFORM feed_append(OLD.event_id, 'event', OLD.event_id, NULL);
    END IF;
    PERFORM feed_append(NEW.event_id, 'event', NEW.event_id, NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER feed_device_insert AFTER INSERT ON devices
    FOR EACH ROW EXECUTE FUNCTION feed_device();
CREATE TRIGGER feed_device_update AFTER UPDATE OF status, public_key, name, event_id ON devices
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.public_key IS DISTINCT FROM NEW.public_key
          OR OLD.name IS DISTINCT FROM NEW.name OR OLD.event_id IS DISTINCT FROM NEW.event_id)
    EXECUTE FUNCTION feed_device();

-- Devices enrolled before this migration: their events' gates learn the list once.
SELECT feed_append(event_id, 'event', event_id, NULL)
FROM (SELECT DISTINCT event_id FROM devices ORDER BY event_id) d;
