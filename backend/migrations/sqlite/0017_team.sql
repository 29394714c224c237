-- A host's team (issue 30, `domain::team`). The account that signed the shop up is its owner
-- (it has no row here); a co-worker's account joins the shop with a role through a one-time
-- invite and then acts for the shop's host, within what the role allows.
CREATE TABLE team_members (
    account_id      BIGINT  PRIMARY KEY REFERENCES host_accounts(id) ON DELETE CASCADE,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    role            TEXT    NOT NULL CHECK (role IN ('producer', 'moderator', 'analyst')),
    invited_by      BIGINT  NOT NULL,
    joined_at_ms    BIGINT  NOT NULL
);
CREATE INDEX team_members_by_host ON team_members (host_id);

-- One-time invite links: the link holds a random token, we keep its hash. Used once
-- (`used_by`), revocable, and valid for a week.
CREATE TABLE team_invites (
    token_hash      TEXT    PRIMARY KEY,
    host_id         BIGINT  NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    role            TEXT    NOT NULL CHECK (role IN ('producer', 'moderator', 'analyst')),
    note            TEXT    NOT NULL DEFAULT '',
    created_by      BIGINT  NOT NULL,
    created_at_ms   BIGINT  NOT NULL,
    expires_at_ms   BIGINT  NOT NULL,
    used_by         BIGINT,
    used_at_ms      BIGINT,
    revoked_at_ms   BIGINT
);
CREATE INDEX team_invites_by_host ON team_invites (host_id, created_at_ms);

-- Who did it: the account behind an audited change, and its email at the time.
ALTER TABLE audit_log ADD COLUMN account_id BIGINT;
ALTER TABLE audit_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_by_host ON audit_log (host_id, created_at_ms);
