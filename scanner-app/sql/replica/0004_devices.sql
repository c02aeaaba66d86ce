-- The event's devices as the server lists them (ADR 0024): a mesh peer whose certificate
-- names a revoked device, or a key the server no longer holds for it, is refused.
CREATE TABLE devices (
    device_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,        -- active | revoked
    public_key BLOB
) WITHOUT ROWID;
