-- Rosters (RFC 6121 §2) and presence subscriptions (RFC 6121 §3, Appendix A), owned by
-- modules/roster/ (SQL in modules/roster/roster_store.cpp). Every table leads with the
-- account and cascades from it, so deleting an account deletes its roster.
--
-- A contact's subscription state (Appendix A.1) is spread over two tables:
--   roster_items.subscription  none | to | from | both
--   roster_items.ask           "Pending Out": a subscribe was sent and not yet answered
--   roster_subscription_requests  "Pending In": a subscribe was received and not yet
--                              answered; kept apart because a request from a stranger must
--                              not put the stranger on the roster (RFC 6121 §3.1.3)
--   roster_items.approved      a pre-approval (RFC 6121 §3.4) not yet used

CREATE TABLE roster_items (
    server_host  text NOT NULL,
    username     text NOT NULL,
    contact_jid  text NOT NULL,        -- prepared JID (RFC 7622), normally a bare JID
    name         text,                 -- the 'name' attribute; NULL when absent
    subscription text NOT NULL DEFAULT 'none'
                 CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask          boolean NOT NULL DEFAULT false,
    approved     boolean NOT NULL DEFAULT false,
    groups       text[] NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Pending Out only exists while there is no subscription to the contact (Appendix A.1).
    CHECK (NOT (ask AND subscription IN ('to', 'both'))),
    -- A pre-approval only exists while the contact has no subscription to the user (§3.4).
    CHECK (NOT (approved AND subscription IN ('from', 'both'))),
    CONSTRAINT roster_items_by_account_contact PRIMARY KEY (server_host, username, contact_jid),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);

-- Roster versioning (RFC 6121 §2.6): one counter per account, incremented by every change
-- to its roster items. The row is also what a change locks (SELECT ... FOR UPDATE), so that
-- the changes of one account are applied one at a time.
CREATE TABLE roster_versions (
    server_host text NOT NULL,
    username    text NOT NULL,
    version     bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
    CONSTRAINT roster_versions_by_account PRIMARY KEY (server_host, username),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);

-- Inbound subscription requests not yet approved or denied ("Pending In", RFC 6121 §3.1.3):
-- delivered again whenever the account sends initial presence, until answered.
CREATE TABLE roster_subscription_requests (
    server_host text NOT NULL,
    username    text NOT NULL,
    contact_jid text NOT NULL,         -- the requester's bare JID
    status      text,                  -- the request's <status/> text, if any
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roster_subscription_requests_by_account_contact
        PRIMARY KEY (server_host, username, contact_jid),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);
