-- no-transaction
-- Stripe payments: orders may be paid through Stripe, wait as `pending` with an expiry,
-- expire (capacity released) or be refunded. SQLite cannot alter a CHECK constraint, so
-- `orders` is rebuilt (the documented 12-step procedure: foreign keys off outside the
-- transaction, copy, drop, rename, check, on again); the sqlx migrator runs this file
-- outside its own transaction for that reason.
-- payments: one Checkout Session per order. stripe_events: every verified webhook event,
-- deduplicated by its id, with what was done about it. refunds: every refund asked for,
-- written before Stripe is called, so a crash between the two is visible and retried with
-- the same idempotency key.
-- A second run succeeds (the sqlx migrator records a no-transaction migration only after it
-- ran, so a crash in between runs it again); it loses only the expiry times of orders then
-- pending, which stay pending until Stripe reports on them.

PRAGMA foreign_keys = OFF;

BEGIN;

DROP TABLE IF EXISTS orders_v3;
CREATE TABLE orders_v3 (
    id          INTEGER PRIMARY KEY,
    email       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL
        CHECK (status IN ('pending', 'paid', 'cancelled', 'expired', 'refunded')),
    payment     TEXT    NOT NULL CHECK (payment IN ('demo', 'comp', 'stripe')),
    total_cents INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    token_hash  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    paid_at     INTEGER,
    -- Unix seconds after which an unpaid order releases its capacity.
    expires_at  INTEGER
);
INSERT INTO orders_v3 (id, email, name, status, payment, total_cents, currency, token_hash,
                       created_at, paid_at)
    SELECT id, email, name, status, payment, total_cents, currency, token_hash, created_at, paid_at
    FROM orders;
DROP TABLE orders;
ALTER TABLE orders_v3 RENAME TO orders;
CREATE INDEX orders_pending_expiry ON orders (status, expires_at);

CREATE TABLE IF NOT EXISTS payments (
    order_id       INTEGER PRIMARY KEY REFERENCES orders (id),
    provider       TEXT    NOT NULL CHECK (provider IN ('stripe')),
    session_id     TEXT    UNIQUE,
    checkout_url   TEXT,
    payment_intent TEXT,
    amount_cents   INTEGER NOT NULL,
    currency       TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    paid_at        INTEGER
);

CREATE TABLE IF NOT EXISTS stripe_events (
    id          TEXT    PRIMARY KEY,
    type        TEXT    NOT NULL,
    order_id    INTEGER,
    payload     TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    -- NULL until handled; then what was done (`issued`, `duplicate`, `refunded_late`, ...).
    outcome     TEXT,
    handled_at  INTEGER
);

CREATE TABLE IF NOT EXISTS refunds (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    -- NULL: the whole order.
    ticket_id        INTEGER REFERENCES tickets (id),
    amount_cents     INTEGER NOT NULL,
    currency         TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('requested', 'succeeded', 'failed')),
    stripe_refund_id TEXT,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    completed_at     INTEGER
);
CREATE INDEX IF NOT EXISTS refunds_by_order ON refunds (order_id);

PRAGMA foreign_key_check;

COMMIT;

PRAGMA foreign_keys = ON;
