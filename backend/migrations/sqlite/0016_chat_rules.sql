-- A host's chat rules (`domain::chat_rules`), for every session of theirs and changeable while
-- live: slow mode, chat only for verified phones, and blocked terms. Each node reads them with
-- a cache of at most a second (`backend::live::rules`), so a change reaches every node within
-- one. A term is kept as the host wrote it and in the form it is matched by (`matched`,
-- unique per host).
CREATE TABLE chat_rules (
    host_id         BIGINT  PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    slow_mode_secs  BIGINT  NOT NULL DEFAULT 0 CHECK (slow_mode_secs BETWEEN 0 AND 300),
    verified_only   BIGINT  NOT NULL DEFAULT 0 CHECK (verified_only IN (0, 1)),
    updated_at_ms   BIGINT  NOT NULL
);
CREATE TABLE chat_blocked_terms (
    host_id         BIGINT  NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    matched         TEXT    NOT NULL,
    term            TEXT    NOT NULL,
    action          TEXT    NOT NULL CHECK (action IN ('refuse', 'hold')),
    PRIMARY KEY (host_id, matched)
);
-- Messages a "hold" term kept back, until a moderator lets them through or drops them.
CREATE TABLE chat_held (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    nickname        TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    term            TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'allowed', 'dropped')),
    decided_at_ms   BIGINT
);
CREATE INDEX chat_held_waiting ON chat_held (session_id, state, id);
