-- Wallet passes: which phones (Apple Wallet "device library identifiers") asked to be told
-- about which pass. A pass's serial names one ticket revision (`T<ticket>R<revision>`), so
-- after a transfer the old holder's registration points at a superseded revision and is
-- served a voided pass. What changed since a phone's last look is read from the change feed
-- (`changes`, filled by triggers on every ticket write), whose seq is commit-ordered on both
-- backends (ADR 0008); the index below serves that lookup by ticket.

CREATE TABLE wallet_registrations (
    device_library_id TEXT    NOT NULL,
    pass_type_id      TEXT    NOT NULL,
    serial            TEXT    NOT NULL,
    ticket_id         BIGINT  NOT NULL REFERENCES tickets (id),
    revision          BIGINT  NOT NULL,
    push_token        TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    PRIMARY KEY (device_library_id, pass_type_id, serial)
);
CREATE INDEX wallet_registrations_by_ticket ON wallet_registrations (ticket_id);

CREATE INDEX changes_by_entity ON changes (kind, entity, seq);
