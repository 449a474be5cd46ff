-- XEP-0313 Message Archive Management: each account's archive of one-to-one messages, and
-- its archiving preferences (XEP-0441). Written and read by modules/mam (SQL in
-- modules/mam/mam_store.cpp; query plans in modules/mam/README.md).

-- One row per archived message, in the archive of (server_host, username).
-- id: time-ordered (upper 47 bits: milliseconds since the epoch; lower 16 bits: a random
--     sequence), unique in the archive, never reused; clients see it in base32 as the
--     stanza-id / result id. The archive timestamp IS the id's millisecond: queries turn
--     'start'/'end' into id bounds. created_at holds the same instant for people and tools.
-- peer / peer_resource: the other party (sender of an incoming message, recipient of an
--     outgoing one), bare JID and resource ('' when none).
-- stanza: the message as archived (XML, jabber:client); body: its <body/> text, for a later
--     full-text search (NULL when none).
CREATE TABLE mam_archive (
    server_host   text NOT NULL,
    username      text NOT NULL,
    id            bigint NOT NULL CHECK (id > 0),
    created_at    timestamptz NOT NULL,
    peer          text NOT NULL,
    peer_resource text NOT NULL DEFAULT '',
    direction     text NOT NULL CHECK (direction IN ('in', 'out')),
    stanza        text NOT NULL,
    body          text,
    PRIMARY KEY (server_host, username, id),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);

-- Queries with a 'with' filter: one conversation, in id order.
CREATE INDEX mam_archive_host_user_peer_id ON mam_archive (server_host, username, peer, id);
-- Retention: the oldest rows of a host across all accounts (ids are time-ordered).
CREATE INDEX mam_archive_host_id ON mam_archive (server_host, id);
-- No timestamp index: 'start'/'end' are also turned into id bounds, which the primary key
-- and the index above already serve.

-- Archiving preferences; no row means the server's default policy and empty lists.
CREATE TABLE mam_prefs (
    server_host text NOT NULL,
    username    text NOT NULL,
    policy      text NOT NULL CHECK (policy IN ('always', 'never', 'roster')),
    always_jids text[] NOT NULL DEFAULT '{}',
    never_jids  text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_host, username),
    FOREIGN KEY (server_host, username)
        REFERENCES accounts (server_host, username) ON DELETE CASCADE
);
