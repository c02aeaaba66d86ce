-- The replica: everything here can be rebuilt from the server (or a bundle).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE event (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    timezone TEXT NOT NULL,
    days     TEXT NOT NULL,          -- JSON array of ISO dates, ascending
    policy   TEXT NOT NULL           -- once_per_day | reentry_after_exit
);

CREATE TABLE gates (
    name  TEXT PRIMARY KEY,
    zones INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE ticket_types (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL               -- pass | vendor_booth
);

CREATE TABLE keys (
    key_id     INTEGER PRIMARY KEY,
    public_key BLOB NOT NULL,
    status     TEXT NOT NULL         -- active | retired
);

-- Ticket ids are u64 on the wire, stored bit for bit as SQLite's i64.
-- A row whose status is not 'valid', or whose revision is above a code's, revokes it: the
-- replica's revocation list is this table.
CREATE TABLE tickets (
    ticket_id     INTEGER PRIMARY KEY,
    ticket_type   INTEGER NOT NULL,
    revision      INTEGER NOT NULL,
    status        TEXT NOT NULL,     -- valid | refunded | cancelled | voided | blocked
    superseded_by TEXT,              -- transfer | upgrade | reissue
    holder        TEXT,              -- display name; personal data, wiped on revocation
    detail        TEXT               -- e.g. vendor business and booth
);

-- Check-ins of other devices, as the server relayed them.
CREATE TABLE check_ins (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    ticket_id   INTEGER,
    at_ms       INTEGER NOT NULL,
    gate        TEXT NOT NULL,
    device_name TEXT NOT NULL,
    direction   TEXT NOT NULL,
    admitted    INTEGER NOT NULL,
    reason      TEXT,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE INDEX check_ins_ticket ON check_ins (ticket_id);
