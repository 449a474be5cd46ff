-- Offline messages (XEP-0160): messages for an account that had no available resource,
-- kept until the account next sends available presence with a non-negative priority, then
-- delivered in `seq` order and deleted. Owned by modules/offline (SQL in offline_store.cpp).
CREATE TABLE offline_messages (
    server_host text NOT NULL,
    username    text NOT NULL,
    -- Orders an account's messages: inserts for one account are serialised (the storing
    -- transaction locks the account's row), so seq order is arrival order.
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    -- The message as it arrived, serialised with xmlns='jabber:client'.
    stanza      text NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    -- Also the index for "this account's messages in order" (counting for the quota, taking
    -- the oldest first).
    CONSTRAINT offline_messages_account_seq PRIMARY KEY (server_host, username, seq),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);
