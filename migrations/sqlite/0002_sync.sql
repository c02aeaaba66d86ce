-- Sync: devices, enrollment codes, every device's check-ins, and the change feed.
-- The feed is filled by triggers, so every write to tickets, keys, the event or check-ins
-- reaches devices without the writing code having to remember it. SQLite has one writer, so
-- AUTOINCREMENT order is commit order: a reader never sees seq n+1 before seq n.

ALTER TABLE events ADD COLUMN policy TEXT NOT NULL DEFAULT 'once_per_day'
    CHECK (policy IN ('once_per_day', 'reentry_after_exit'));

CREATE TABLE devices (
    id            TEXT    PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events (id),
    name          TEXT    NOT NULL,
    gate          TEXT,
    token_hash    BLOB    NOT NULL UNIQUE,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    app_version   TEXT    NOT NULL,
    enrolled_at   INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_seen_ms  INTEGER,
    cursor        INTEGER NOT NULL DEFAULT 0,
    clock_skew_ms INTEGER,
    check_ins     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE enrollment_codes (
    code_hash  BLOB    PRIMARY KEY,
    event_id   INTEGER NOT NULL REFERENCES events (id),
    name       TEXT    NOT NULL,
    gate       TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by    TEXT,
    used_at    INTEGER
);

CREATE TABLE check_ins (
    device_id       TEXT    NOT NULL REFERENCES devices (id),
    seq             INTEGER NOT NULL,
    event_id        INTEGER NOT NULL REFERENCES events (id),
    -- Verified by the server from `text`; NULL when the code was not a valid ticket.
    ticket_id       INTEGER,
    text            TEXT,
    at_ms           INTEGER NOT NULL,
    gate            TEXT    NOT NULL,
    direction       TEXT    NOT NULL CHECK (direction IN ('entry', 'exit')),
    admitted        INTEGER NOT NULL,
    reason          TEXT,
    server_admitted INTEGER NOT NULL,
    server_reason   TEXT,
    conflict        INTEGER NOT NULL DEFAULT 0,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX check_ins_by_ticket ON check_ins (ticket_id);

CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL: every event's devices (signing keys).
    event_id   INTEGER,
    kind       TEXT    NOT NULL CHECK (kind IN ('event', 'key', 'ticket', 'check_in')),
    entity     INTEGER NOT NULL,
    device_id  TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX changes_by_event ON changes (event_id, seq);

CREATE TRIGGER feed_ticket_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at)
    VALUES (NEW.event_id, 'ticket', NEW.id, unixepoch());
END;
CREATE TRIGGER feed_ticket_update AFTER UPDATE ON tickets BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at)
    VALUES (NEW.event_id, 'ticket', NEW.id, unixepoch());
END;
CREATE TRIGGER feed_key_insert AFTER INSERT ON signing_keys BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NULL, 'key', NEW.id, unixepoch());
END;
CREATE TRIGGER feed_key_update AFTER UPDATE ON signing_keys BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NULL, 'key', NEW.id, unixepoch());
END;
CREATE TRIGGER feed_event_update AFTER UPDATE ON events BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NEW.id, 'event', NEW.id, unixepoch());
END;
CREATE TRIGGER feed_gate_insert AFTER INSERT ON gates BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NEW.event_id, 'event', NEW.event_id, unixepoch());
END;
CREATE TRIGGER feed_gate_update AFTER UPDATE ON gates BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NEW.event_id, 'event', NEW.event_id, unixepoch());
END;
CREATE TRIGGER feed_type_insert AFTER INSERT ON ticket_types BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NEW.event_id, 'event', NEW.event_id, unixepoch());
END;
CREATE TRIGGER feed_type_update AFTER UPDATE OF name, kind ON ticket_types BEGIN
    INSERT INTO changes (event_id, kind, entity, created_at) VALUES (NEW.event_id, 'event', NEW.event_id, unixepoch());
END;
CREATE TRIGGER feed_check_in_insert AFTER INSERT ON check_ins BEGIN
    INSERT INTO changes (event_id, kind, entity, device_id, created_at)
    VALUES (NEW.event_id, 'check_in', NEW.seq, NEW.device_id, unixepoch());
END;
CREATE TRIGGER feed_check_in_update AFTER UPDATE OF server_admitted, server_reason, conflict ON check_ins BEGIN
    INSERT INTO changes (event_id, kind, entity, device_id, created_at)
    VALUES (NEW.event_id, 'check_in', NEW.seq, NEW.device_id, unixepoch());
END;

-- What existed before the feed: one change per ticket, key and event, in id order.
INSERT INTO changes (event_id, kind, entity, created_at) SELECT id, 'event', id, unixepoch() FROM events ORDER BY id;
INSERT INTO changes (event_id, kind, entity, created_at) SELECT NULL, 'key', id, unixepoch() FROM signing_keys ORDER BY id;
INSERT INTO changes (event_id, kind, entity, created_at) SELECT event_id, 'ticket', id, unixepoch() FROM tickets ORDER BY id;
