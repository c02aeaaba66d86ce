-- Vendors and the organizer console (issue 9).
-- vendor_profiles: one per vendor business contact, keyed by email (lower case), created by
-- the first booth purchase and updated by later ones. vendor_purchases: the metadata of a
-- booth order (one booth ticket), kept with the order so the confirmation email and the gate
-- can show it even before the order is paid (Stripe). booths: the organizer's physical
-- booths with location codes; a booth's id goes into the signed claims of staff passes
-- (`booth`, a u16), and a booth holds at most one purchase. vendor_staff_passes: which
-- tickets are a booth's staff passes.
-- ticket_types.sales_paused: a paused type cannot be bought (comps still work).

ALTER TABLE ticket_types ADD COLUMN sales_paused INTEGER NOT NULL DEFAULT 0;

CREATE TABLE vendor_profiles (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    business_name TEXT    NOT NULL,
    contact_name  TEXT    NOT NULL,
    phone         TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE vendor_purchases (
    order_id       INTEGER PRIMARY KEY REFERENCES orders (id),
    vendor_id      INTEGER NOT NULL REFERENCES vendor_profiles (id),
    event_id       INTEGER NOT NULL REFERENCES events (id),
    ticket_type_id INTEGER NOT NULL REFERENCES ticket_types (id),
    category       TEXT    NOT NULL CHECK (category IN ('bazaar', 'food_truck', 'food_booth')),
    business_name  TEXT    NOT NULL,
    booth_name     TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX vendor_purchases_by_vendor ON vendor_purchases (vendor_id);

CREATE TABLE booths (
    id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 65535),
    event_id    INTEGER NOT NULL REFERENCES events (id),
    code        TEXT    NOT NULL,
    category    TEXT    CHECK (category IN ('bazaar', 'food_truck', 'food_booth')),
    order_id    INTEGER UNIQUE REFERENCES vendor_purchases (order_id),
    assigned_at INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (event_id, code)
);

CREATE TABLE vendor_staff_passes (
    ticket_id  INTEGER PRIMARY KEY REFERENCES tickets (id),
    booth_id   INTEGER NOT NULL REFERENCES booths (id),
    created_at INTEGER NOT NULL
);
CREATE INDEX vendor_staff_passes_by_booth ON vendor_staff_passes (booth_id);
