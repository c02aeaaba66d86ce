-- no-transaction
-- Accounts: users with one role, sessions (browser cookies and API bearer tokens, stored
-- hashed), one-time email tokens (address verification, password reset; the link carries
-- the row id and an HMAC, the row makes it single use and expiring), failed logins for rate
-- limiting. Orders remember the account that placed them; tickets carry their holder's
-- email (the dashboard shows a verified address's tickets) and why their current revision
-- replaced the previous one (a transfer or an upgrade), which gates show.
-- The outbox now also carries emails that are not about an order (verification, reset):
-- SQLite cannot drop a NOT NULL, so `outbox` is rebuilt like `orders` in 0003 (foreign keys
-- off outside the transaction). A second run succeeds.

PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE IF NOT EXISTS users (
    id                INTEGER PRIMARY KEY,
    -- ASCII-lowercased; the login.
    email             TEXT    NOT NULL UNIQUE,
    name              TEXT    NOT NULL,
    -- PHC string (argon2id).
    password_hash     TEXT    NOT NULL,
    role              TEXT    NOT NULL
        CHECK (role IN ('attendee', 'vendor', 'gate_staff', 'organizer')),
    email_verified_at INTEGER,
    created_at        INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    token_hash   BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);

CREATE TABLE IF NOT EXISTS email_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE TABLE IF NOT EXISTS login_failures (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT    NOT NULL,
    at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_by_email ON login_failures (email, at);

DROP TABLE IF EXISTS outbox_v4;
CREATE TABLE outbox_v4 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    -- NULL for account emails.
    order_id        INTEGER REFERENCES orders (id),
    -- What else the email is about: the email token (verification, reset) or the ticket
    -- (transfer notices).
    ref_id          INTEGER,
    recipient       TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
INSERT INTO outbox_v4 (id, kind, order_id, recipient, status, attempts, next_attempt_ms,
                       lease_until_ms, last_error, created_at, sent_at)
    SELECT id, kind, order_id, recipient, status, attempts, next_attempt_ms, lease_until_ms,
           last_error, created_at, sent_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);

PRAGMA foreign_key_check;

COMMIT;

PRAGMA foreign_keys = ON;

-- Adding columns is not repeatable, so these run after the rebuild, each on its own: a
-- crash between them is the one case a second run cannot finish (the migrator reports it).
ALTER TABLE orders ADD COLUMN user_id INTEGER REFERENCES users (id);
-- An upgrade is paid by an order of its own, which names the ticket it upgrades.
ALTER TABLE orders ADD COLUMN upgrade_ticket_id INTEGER;
ALTER TABLE tickets ADD COLUMN holder_email TEXT;
ALTER TABLE tickets ADD COLUMN superseded_by TEXT
    CHECK (superseded_by IN ('transfer', 'upgrade', 'reissue'));
UPDATE tickets SET holder_email = (SELECT lower(email) FROM orders WHERE orders.id = tickets.order_id);
CREATE INDEX tickets_by_holder ON tickets (holder_email);
