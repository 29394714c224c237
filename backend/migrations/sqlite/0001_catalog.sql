-- Hosts, their live sessions and the products each session presents.
-- Timestamps are Unix epoch milliseconds; money is integer fen.
CREATE TABLE hosts (
    id              INTEGER PRIMARY KEY,
    display_name    TEXT    NOT NULL,
    avatar_url      TEXT    NOT NULL DEFAULT '',
    created_at_ms   BIGINT  NOT NULL
);

CREATE TABLE live_sessions (
    id                  INTEGER PRIMARY KEY,
    host_id             BIGINT  NOT NULL REFERENCES hosts(id),
    title               TEXT    NOT NULL,
    description         TEXT    NOT NULL DEFAULT '',
    cover_url           TEXT    NOT NULL,
    currency            TEXT    NOT NULL DEFAULT 'CNY',
    status              TEXT    NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'live', 'ended')),
    scheduled_start_ms  BIGINT  NOT NULL,
    started_at_ms       BIGINT,
    ended_at_ms         BIGINT,
    created_at_ms       BIGINT  NOT NULL
);
CREATE INDEX live_sessions_by_start ON live_sessions (status, scheduled_start_ms);

CREATE TABLE products (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    position        BIGINT  NOT NULL,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    category        TEXT    NOT NULL,
    price_fen       BIGINT  NOT NULL CHECK (price_fen > 0),
    stock           BIGINT  NOT NULL CHECK (stock >= 0),
    image_url       TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);
CREATE INDEX products_by_session ON products (session_id, position);
