-- An upgrade order remembers the ticket type it upgraded from, so a later refund of the
-- ticket knows what the original order charged for it (the ticket's type has changed).
ALTER TABLE orders ADD COLUMN upgrade_from_type BIGINT;
