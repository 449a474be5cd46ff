-- Sign-ins: one row per successful login (with the resource it bound) and per failed
-- password or proof check of an existing account (no resource). Kept for [security]
-- signin_retention days, then purged; deleted with the account. The signin_notice module
-- reads them to tell a user about a sign-in from a new client or network.
CREATE TABLE signins (
    server_host text NOT NULL,
    username    text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    address     text NOT NULL,
    resource    text,
    success     boolean NOT NULL,
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);
CREATE INDEX signins_by_account_time ON signins (server_host, username, at);
CREATE INDEX signins_by_time ON signins (at);
