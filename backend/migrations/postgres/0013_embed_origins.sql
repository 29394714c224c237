-- The sites a host allows to embed its live rooms (`/embed/{session}` in an iframe): the
-- rooms' CSP `frame-ancestors` and the `postMessage` origin checks on both sides follow it.
-- Origins are stored in one spelling (`domain::embed::EmbedOrigin`).
CREATE TABLE embed_origins (
    host_id         BIGINT  NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    origin          TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL,
    PRIMARY KEY (host_id, origin)
);
