-- Sync: devices, enrollment codes, every device's check-ins, and the change feed.
-- The feed is filled by triggers. Several server instances write concurrently, so a plain
-- identity column could commit seq n+1 before seq n and a reader at "n+1" would skip n
-- forever. Every feed write therefore first takes one transaction-scoped advisory lock and
-- draws its seq under it: seqs are handed out in commit order (ADR 0008).

ALTER TABLE events ADD COLUMN policy TEXT NOT NULL DEFAULT 'once_per_day'
    CHECK (policy IN ('once_per_day', 'reentry_after_exit'));

CREATE TABLE devices (
    id            TEXT    PRIMARY KEY,
    event_id      BIGINT  NOT NULL REFERENCES events (id),
    name          TEXT    NOT NULL,
    gate          TEXT,
    token_hash    BYTEA   NOT NULL UNIQUE,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    app_version   TEXT    NOT NULL,
    enrolled_at   BIGINT  NOT NULL,
    revoked_at    BIGINT,
    last_seen_ms  BIGINT,
    cursor        BIGINT  NOT NULL DEFAULT 0,
    clock_skew_ms BIGINT,
    check_ins     BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE enrollment_codes (
    code_hash  BYTEA   PRIMARY KEY,
    event_id   BIGINT  NOT NULL REFERENCES events (id),
    name       TEXT    NOT NULL,
    gate       TEXT,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_by    TEXT,
    used_at    BIGINT
);

CREATE TABLE check_ins (
    device_id       TEXT    NOT NULL REFERENCES devices (id),
    seq             BIGINT  NOT NULL,
    event_id        BIGINT  NOT NULL REFERENCES events (id),
    ticket_id       BIGINT,
    text            TEXT,
    at_ms           BIGINT  NOT NULL,
    gate            TEXT    NOT NULL,
    direction       TEXT    NOT NULL CHECK (direction IN ('entry', 'exit')),
    admitted        BIGINT  NOT NULL,
    reason          TEXT,
    server_admitted BIGINT  NOT NULL,
    server_reason   TEXT,
    conflict        BIGINT  NOT NULL DEFAULT 0,
    received_at     BIGINT  NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX check_ins_by_ticket ON check_ins (ticket_id);

CREATE TABLE changes (
    seq        BIGINT  PRIMARY KEY,
    event_id   BIGINT,
    kind       TEXT    NOT NULL CHECK (kind IN ('event', 'key', 'ticket', 'check_in')),
    entity     BIGINT  NOT NULL,
    device_id  TEXT,
    created_at BIGINT  NOT NULL
);
CREATE INDEX changes_by_event ON changes (event_id, seq);
CREATE SEQUENCE changes_seq;

-- Appends one change under the feed lock (held until the writing transaction ends).
CREATE FUNCTION feed_append(p_event BIGINT, p_kind TEXT, p_entity BIGINT, p_device TEXT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7283001);
    INSERT INTO changes (seq, event_id, kind, entity, device_id, created_at)
    VALUES (nextval('changes_seq'), p_event, p_kind, p_entity, p_device,
            EXTRACT(EPOCH FROM now())::BIGINT);
END $$;

CREATE FUNCTION feed_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM feed_append(NEW.event_id, 'ticket', NEW.id, NULL); RETURN NULL; END $$;
CREATE FUNCTION feed_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM feed_append(NULL, 'key', NEW.id, NULL); RETURN NULL; END $$;
CREATE FUNCTION feed_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM feed_append(NEW.id, 'event', NEW.id, NULL); RETURN NULL; END $$;
CREATE FUNCTION feed_event_part() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM feed_append(NEW.event_id, 'event', NEW.event_id, NULL); RETURN NULL; END $$;
CREATE FUNCTION feed_check_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM feed_append(NEW.event_id, 'check_in', NEW.seq, NEW.device_id); RETURN NULL; END $$;

CREATE TRIGGER feed_ticket AFTER INSERT OR UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION feed_ticket();
CREATE TRIGGER feed_key AFTER INSERT OR UPDATE ON signing_keys FOR EACH ROW EXECUTE FUNCTION feed_key();
CREATE TRIGGER feed_event AFTER UPDATE ON events FOR EACH ROW EXECUTE FUNCTION feed_event();
CREATE TRIGGER feed_gate AFTER INSERT OR UPDATE ON gates FOR EACH ROW EXECUTE FUNCTION feed_event_part();
CREATE TRIGGER feed_type_insert AFTER INSERT ON ticket_types FOR EACH ROW EXECUTE FUNCTION feed_event_part();
CREATE TRIGGER feed_type_update AFTER UPDATE OF name, kind ON ticket_types FOR EACH ROW EXECUTE FUNCTION feed_event_part();
CREATE TRIGGER feed_check_in_insert AFTER INSERT ON check_ins FOR EACH ROW EXECUTE FUNCTION feed_check_in();
CREATE TRIGGER feed_check_in_update AFTER UPDATE OF server_admitted, server_reason, conflict ON check_ins
    FOR EACH ROW EXECUTE FUNCTION feed_check_in();

SELECT feed_append(id, 'event', id, NULL) FROM (SELECT id FROM events ORDER BY id) e;
SELECT feed_append(NULL, 'key', id, NULL) FROM (SELECT id FROM signing_keys ORDER BY id) k;
SELECT feed_append(event_id, 'ticket', id, NULL) FROM (SELECT event_id, id FROM tickets ORDER BY id) t;
