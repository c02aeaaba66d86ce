-- The device store: what cannot be rebuilt from the server. Kept in its own file so that a
-- corrupt or rebuilt replica never takes the unsent check-ins with it.
CREATE TABLE identity (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- This device's check-ins, every scan, admitted or not. Append-only, keyed (device_id, seq):
-- uploads are idempotent by construction. Acknowledged rows stay: the device never forgets
-- whom it admitted.
CREATE TABLE queue (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ticket_id   INTEGER,             -- NULL when the code could not be verified
    revision    INTEGER,
    at_ms       INTEGER NOT NULL,
    gate        TEXT NOT NULL,
    direction   TEXT NOT NULL,       -- entry | exit
    verdict     TEXT NOT NULL,       -- admit | reject
    reason      TEXT,                -- reject reason code
    basis       TEXT,                -- replica | signature_only
    acked_at_ms INTEGER,             -- set when the server confirmed it
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE INDEX queue_ticket ON queue (ticket_id);

CREATE TRIGGER queue_no_delete BEFORE DELETE ON queue
BEGIN
    SELECT RAISE(ABORT, 'the check-in queue is append-only');
END;

CREATE TRIGGER queue_immutable
BEFORE UPDATE OF device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict, reason, basis
ON queue
BEGIN
    SELECT RAISE(ABORT, 'a queued check-in cannot be changed');
END;
