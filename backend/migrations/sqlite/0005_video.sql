-- Each time the host broadcast (WHIP ingest) for a session; the first start is where the
-- recording's timeline begins (replay markers are offsets from it).
CREATE TABLE broadcasts (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    codec           TEXT    NOT NULL,
    started_at_ms   BIGINT  NOT NULL,
    ended_at_ms     BIGINT
);
CREATE INDEX broadcasts_by_session ON broadcasts (session_id, started_at_ms);
