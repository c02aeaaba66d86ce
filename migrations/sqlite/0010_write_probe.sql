-- One row that `/readyz` writes and commits: readiness means the database takes writes,
-- not only that it answers reads.
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms INTEGER NOT NULL
);
