-- The language each order was placed in (the page or API request that placed it: its
-- switch cookie, else Accept-Language), which its confirmation, refund notice, PDF and wallet
-- pass labels are written in; orders placed before this migration were served in English.
-- And an account's own choice (the language switch or the profile page while logged in),
-- NULL until it makes one; it comes before the cookie and Accept-Language (ADR 0023).
ALTER TABLE orders ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
ALTER TABLE users ADD COLUMN lang TEXT;
