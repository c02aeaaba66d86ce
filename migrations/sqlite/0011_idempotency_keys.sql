-- The Idempotency-Key of an order request: the same key with the same request gives the
-- same order. Written in the order's own transaction, so two racing requests with one key
-- make one order.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    request_key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, request_key)
);
