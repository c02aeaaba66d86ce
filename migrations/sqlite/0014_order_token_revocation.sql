-- When an order's access token (the link in its confirmation) was revoked by an organizer;
-- NULL while it works. The token also stops working a while after the order's event ends,
-- which is computed from the event's days, not stored.
ALTER TABLE orders ADD COLUMN token_revoked_at INTEGER;
