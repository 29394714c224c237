-- Restream destinations: where a host's broadcasts are also pushed (an RTMP(S) ingest URL and
-- a stream key; `domain::restream`). The key is stored sealed (AES-256-GCM under a key derived
-- from the server secret, bound to the host; `backend::restream`); only its last 4 characters
-- (`key_hint`, kept for keys of 12 or more) are ever shown. The state columns are written by
-- the node that pushes (connecting, live, failing with a reason) and refreshed while it does,
-- so the studio sees them from any node.
CREATE TABLE restream_destinations (
    id              INTEGER PRIMARY KEY,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    key_sealed      TEXT    NOT NULL,
    key_hint        TEXT    NOT NULL,
    enabled         BIGINT  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at_ms   BIGINT  NOT NULL,
    state           TEXT,
    state_reason    TEXT,
    state_session_id BIGINT,
    state_at_ms     BIGINT
);
CREATE INDEX restream_destinations_by_host ON restream_destinations (host_id, id);
