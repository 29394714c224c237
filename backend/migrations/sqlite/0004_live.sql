-- Shoppers the host muted in a session's live chat.
CREATE TABLE chat_mutes (
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    created_at_ms   BIGINT  NOT NULL,
    PRIMARY KEY (session_id, shopper_id)
);
