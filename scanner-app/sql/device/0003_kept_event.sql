-- What the gate decides with, kept beside the queue: the event (days, timezone, policy, gates,
-- ticket type names) and the public keys with their active or retired state, as last loaded
-- into the replica. A gate whose replica is lost keeps deciding on signatures alone with them
-- until its next sync (docs/adr/0014-gate-file-damage.md). No tickets and no personal data
-- here: those stay in the rebuildable replica.
CREATE TABLE kept_event (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    event_id  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    timezone  TEXT NOT NULL,
    days      TEXT NOT NULL,         -- JSON array of ISO dates, ascending
    policy    TEXT NOT NULL          -- once_per_day | reentry_after_exit
);

CREATE TABLE kept_gates (
    name  TEXT PRIMARY KEY,
    zones INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE kept_ticket_types (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE kept_keys (
    key_id     INTEGER PRIMARY KEY,
    public_key BLOB NOT NULL,
    status     TEXT NOT NULL         -- active | retired
);
