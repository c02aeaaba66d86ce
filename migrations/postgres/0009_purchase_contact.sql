-- Each booth purchase keeps the contact name and phone given with it. The vendor profile
-- (one per email) keeps what its first purchase gave: a purchase form anyone can submit
-- must not rewrite the contact details organizers see for another vendor's purchases.
ALTER TABLE vendor_purchases ADD COLUMN contact_name TEXT;
ALTER TABLE vendor_purchases ADD COLUMN phone TEXT;
