-- Accounts: one row per local user. Every table that holds something a user owns
-- references this one with ON DELETE CASCADE, so deleting an account deletes all of it.
CREATE TABLE accounts (
    server_host text NOT NULL,
    username    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_host, username)
);

-- SCRAM credentials, one row per mechanism (RFC 5802 §3). The password is never stored.
-- StoredKey and ServerKey are sealed with AES-256-GCM under a key derived from the server
-- secret, which lives outside the database; the associated data binds them to the account's
-- JID, the mechanism, the salt and the iteration count, so a row copied onto another account
-- or altered fails to open. A dump of this table alone allows no offline password guess.
CREATE TABLE scram_credentials (
    server_host text NOT NULL,
    username    text NOT NULL,
    mechanism   text NOT NULL CHECK (mechanism IN ('SCRAM-SHA-1', 'SCRAM-SHA-256')),
    salt        bytea NOT NULL CHECK (length(salt) >= 16),
    iterations  integer NOT NULL CHECK (iterations > 0),
    sealed_keys bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_host, username, mechanism),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);
