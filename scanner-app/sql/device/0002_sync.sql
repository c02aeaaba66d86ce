-- Sync: the scanned text (so the server can verify and judge each check-in with the same
-- code), and what the server said when it acknowledged it.
ALTER TABLE queue ADD COLUMN text TEXT;
ALTER TABLE queue ADD COLUMN server_admitted INTEGER;
ALTER TABLE queue ADD COLUMN server_reason TEXT;
ALTER TABLE queue ADD COLUMN conflict INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER queue_immutable;
CREATE TRIGGER queue_immutable
BEFORE UPDATE OF device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict, reason, basis, text
ON queue
BEGIN
    SELECT RAISE(ABORT, 'a queued check-in cannot be changed');
END;
