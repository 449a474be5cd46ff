-- XEP-0191 blocklists (modules/blocking), XEP-0054 vCards (modules/vcard) and XEP-0049
-- private XML storage (modules/private). Everything here belongs to an account and goes
-- with it (ON DELETE CASCADE).

-- One row per blocked JID, in the canonical form of RFC 7622 (as Jid::full() writes it):
-- "user@domain/resource", "user@domain", "domain/resource" or "domain" (XEP-0191 §6).
CREATE TABLE blocklist_items (
    server_host text NOT NULL,
    username    text NOT NULL,
    jid         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_host, username, jid),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);

-- The account's own vCard (vcard-temp), as XML text: <vCard xmlns='vcard-temp'>...</vCard>.
CREATE TABLE vcards (
    server_host text NOT NULL,
    username    text NOT NULL,
    vcard       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_host, username),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);

-- Private XML (jabber:iq:private), one fragment per (namespace, element name), stored as
-- XML text with its own xmlns declaration.
CREATE TABLE private_storage (
    server_host text NOT NULL,
    username    text NOT NULL,
    namespace   text NOT NULL,
    element     text NOT NULL,
    data        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_host, username, namespace, element),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);
