-- The pinned note (issue 30): one short note per session, pinned above the chat by the host or
-- a moderator. Kept here so that a room opened on any node, or after a restart, shows it.
CREATE TABLE live_pins (
    session_id      BIGINT  PRIMARY KEY REFERENCES live_sessions(id) ON DELETE CASCADE,
    text            TEXT    NOT NULL,
    pinned_by       BIGINT  NOT NULL,
    pinned_at_ms    BIGINT  NOT NULL
);

-- Shoppers' reports of a chat message, queued for the session's moderators. One report per
-- shopper and message; the message's author and text are copied (the room keeps only the
-- latest messages). Decided once: removed from the chat or dismissed.
CREATE TABLE chat_reports (
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    message_id      BIGINT  NOT NULL,
    reporter_id     BIGINT  NOT NULL,
    author_id       BIGINT  NOT NULL,
    nickname        TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    reason          TEXT    NOT NULL CHECK (reason IN ('spam', 'abuse', 'scam', 'other')),
    state           TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'removed', 'dismissed')),
    created_at_ms   BIGINT  NOT NULL,
    decided_at_ms   BIGINT,
    PRIMARY KEY (session_id, message_id, reporter_id)
);
CREATE INDEX chat_reports_open ON chat_reports (session_id, state, created_at_ms);
