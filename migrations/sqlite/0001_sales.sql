-- Catalog, signing keys, orders, tickets and the email outbox (SQLite, the embedded default).
-- Times are integers: seconds since the Unix epoch, or milliseconds where the column says so.

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    venue       TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    -- The event's days as ISO dates, ascending, comma-separated: day i of a DayMask.
    days        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE gates (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    name        TEXT    NOT NULL,
    zones       INTEGER NOT NULL,
    direction   TEXT    NOT NULL DEFAULT 'entry' CHECK (direction IN ('entry', 'exit')),
    UNIQUE (event_id, name)
);

CREATE TABLE ticket_types (
    id           INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 65535),
    event_id     INTEGER NOT NULL REFERENCES events (id),
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('pass', 'vendor_booth')),
    price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
    currency     TEXT    NOT NULL,
    capacity     INTEGER NOT NULL CHECK (capacity >= 0),
    sold         INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= capacity),
    days_mask    INTEGER NOT NULL CHECK (days_mask BETWEEN 1 AND 65535),
    zones        INTEGER NOT NULL CHECK (zones BETWEEN 1 AND 65535),
    transferable INTEGER NOT NULL,
    UNIQUE (event_id, name)
);

CREATE TABLE signing_keys (
    id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 65535),
    public_key  BLOB    NOT NULL,
    -- XChaCha20-Poly1305 nonce || ciphertext of the 32-byte seed, AAD = key id.
    sealed_seed BLOB    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('active', 'retired')),
    created_at  INTEGER NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    email       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled')),
    payment     TEXT    NOT NULL CHECK (payment IN ('demo', 'comp')),
    total_cents INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    token_hash  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    paid_at     INTEGER
);

CREATE TABLE order_items (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    ticket_type_id   INTEGER NOT NULL REFERENCES ticket_types (id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, ticket_type_id)
);

CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    order_id       INTEGER NOT NULL REFERENCES orders (id),
    event_id       INTEGER NOT NULL REFERENCES events (id),
    ticket_type_id INTEGER NOT NULL REFERENCES ticket_types (id),
    revision       INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('valid', 'void')),
    holder_name    TEXT    NOT NULL,
    days_mask      INTEGER NOT NULL,
    zones          INTEGER NOT NULL,
    booth          INTEGER,
    key_id         INTEGER NOT NULL REFERENCES signing_keys (id),
    issued_at      INTEGER NOT NULL,
    qr_text        TEXT    NOT NULL
);
CREATE INDEX tickets_by_order ON tickets (order_id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    recipient       TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
