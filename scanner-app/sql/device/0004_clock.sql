-- The clock correction this device applied to its scans (server time minus device time, in
-- milliseconds), from the check-in `from_seq` on: the upload tells the server what each
-- scan's time was corrected by, so the server knows how far it is off (ADR 0020).
CREATE TABLE clock_corrections (
    from_seq      INTEGER PRIMARY KEY,
    correction_ms INTEGER NOT NULL
);
