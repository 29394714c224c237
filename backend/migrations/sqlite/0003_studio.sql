-- The host studio: sign-in lockout, an audit log for sensitive edits, uploaded images.

ALTER TABLE host_accounts ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE host_accounts ADD COLUMN locked_until_ms BIGINT;

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  REFERENCES live_sessions(id) ON DELETE CASCADE,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    action          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    reason          TEXT    NOT NULL DEFAULT '',
    created_at_ms   BIGINT  NOT NULL
);
CREATE INDEX audit_log_by_session ON audit_log (session_id, created_at_ms);

CREATE TABLE uploads (
    name            TEXT    PRIMARY KEY,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id),
    kind            TEXT    NOT NULL,
    width           BIGINT  NOT NULL,
    height          BIGINT  NOT NULL,
    bytes           BIGINT  NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);
