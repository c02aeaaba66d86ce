-- Why each flagged check-in is flagged, the revision of the code scanned, and how far the
-- recording device's clock was off when it uploaded (docs/adr/0020-stale-codes-and-clocks.md).
ALTER TABLE check_ins ADD COLUMN conflict_kind TEXT
    CHECK (conflict_kind IN ('double_entry', 'superseded_code', 'clock_skew'));
ALTER TABLE check_ins ADD COLUMN revision BIGINT;
ALTER TABLE check_ins ADD COLUMN clock_error_ms BIGINT;

-- Before the kinds, every flagged check-in was a second entry.
UPDATE check_ins SET conflict_kind = 'double_entry' WHERE conflict = 1;

-- A kind that changes is a change devices must hear of.
DROP TRIGGER feed_check_in_update ON check_ins;
CREATE TRIGGER feed_check_in_update
    AFTER UPDATE OF server_admitted, server_reason, conflict, conflict_kind ON check_ins
    FOR EACH ROW EXECUTE FUNCTION feed_check_in();
