-- Why the server flagged a check-in, the revision of the code scanned, and how far the
-- recording device's clock was off (ADR 0020).
ALTER TABLE check_ins ADD COLUMN conflict_kind TEXT;
ALTER TABLE check_ins ADD COLUMN revision INTEGER;
ALTER TABLE check_ins ADD COLUMN clock_error_ms INTEGER;
