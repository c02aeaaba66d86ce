-- Attempts at the account forms (login, registration, password reset), each counted under
-- the keys its limits name: the address with the client, the address from every client, the
-- client across addresses ('' where a key leaves one out). A row is written before the
-- attempt is judged and counted after, so racing attempts never pass a limit together; a
-- refused attempt's rows are deleted again. They replace login_failures (per address only).
CREATE TABLE attempts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    action  TEXT    NOT NULL,
    address TEXT    NOT NULL,
    client  TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX attempts_by_key ON attempts (action, address, client, at);
DROP TABLE IF EXISTS login_failures;
