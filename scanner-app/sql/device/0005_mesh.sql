-- The venue mesh (ADR 0024). This device's own signing key (its seed never leaves this file)
-- and the certificate the server gave it at enrollment; each check-in signed when it is
-- recorded, so a peer that relays it cannot change it; and other gates' signed check-ins,
-- held as durably as our own: they count in every decision, and this gate may carry them up
-- to the server for a gate that cannot reach it.
ALTER TABLE identity ADD COLUMN signing_seed BLOB;
ALTER TABLE identity ADD COLUMN certificate BLOB;

ALTER TABLE queue ADD COLUMN signed BLOB;

DROP TRIGGER queue_immutable;
CREATE TRIGGER queue_immutable
BEFORE UPDATE OF device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict, reason, basis, text, signed
ON queue
BEGIN
    SELECT RAISE(ABORT, 'a queued check-in cannot be changed');
END;

-- Certificates of the devices whose check-ins are held below.
CREATE TABLE peer_certificates (
    device_id   TEXT PRIMARY KEY,
    certificate BLOB NOT NULL,
    name        TEXT                -- as the device said in its handshake
) WITHOUT ROWID;

-- Other gates' check-ins as they signed them, with the fields decisions read. Append-only,
-- keyed (device_id, seq) like the server's, so a check-in heard twice is held once.
CREATE TABLE peer_check_ins (
    device_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    ticket_id      INTEGER,
    revision       INTEGER,
    at_ms          INTEGER NOT NULL,
    gate           TEXT NOT NULL,
    direction      TEXT NOT NULL,    -- entry | exit
    admitted       INTEGER NOT NULL,
    text           TEXT,
    signed         BLOB NOT NULL,    -- the signed layout, as relayed
    received_at_ms INTEGER NOT NULL,
    relayed_at_ms  INTEGER,          -- set when the server confirmed it (carried up or not)
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE INDEX peer_check_ins_ticket ON peer_check_ins (ticket_id);
CREATE INDEX peer_check_ins_unrelayed ON peer_check_ins (device_id, seq) WHERE relayed_at_ms IS NULL;

CREATE TRIGGER peer_check_ins_no_delete BEFORE DELETE ON peer_check_ins
BEGIN
    SELECT RAISE(ABORT, 'held check-ins are append-only');
END;

CREATE TRIGGER peer_check_ins_immutable
BEFORE UPDATE OF device_id, seq, ticket_id, revision, at_ms, gate, direction, admitted, text, signed
ON peer_check_ins
BEGIN
    SELECT RAISE(ABORT, 'a held check-in cannot be changed');
END;

-- What the mesh's check-ins show was let in twice (or on a replaced code), judged with core's
-- `reconcile` whenever another gate's check-in of the ticket arrives. Derived: judged again
-- from the two tables above, never the only record of anything.
CREATE TABLE mesh_conflicts (
    device_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    ticket_id    INTEGER NOT NULL,
    kind         TEXT NOT NULL,       -- double_entry | superseded_code | clock_skew
    at_ms        INTEGER NOT NULL,
    gate         TEXT NOT NULL,
    device       TEXT NOT NULL,
    first_at_ms  INTEGER,
    first_gate   TEXT,
    first_device TEXT,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE INDEX mesh_conflicts_ticket ON mesh_conflicts (ticket_id);
