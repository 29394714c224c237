-- Reminders that bring reservers back (issue 31, `domain::reminder`, `backend::reminders`).
--
-- The channels a shopper chose, remembered per shopper for every session they reserve.
CREATE TABLE reminder_channels (
    shopper_id      BIGINT  PRIMARY KEY REFERENCES shoppers(id),
    web_push        BIGINT  NOT NULL DEFAULT 0 CHECK (web_push IN (0, 1)),
    wechat          BIGINT  NOT NULL DEFAULT 0 CHECK (wechat IN (0, 1)),
    sms             BIGINT  NOT NULL DEFAULT 0 CHECK (sms IN (0, 1)),
    -- The language the shopper chose them in: reminders are written in it.
    locale          TEXT    NOT NULL DEFAULT 'zh-CN',
    updated_at_ms   BIGINT  NOT NULL
);

-- A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys, base64url). Dropped
-- when the push service answers 404 or 410.
CREATE TABLE push_subscriptions (
    id              INTEGER PRIMARY KEY,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    endpoint        TEXT    NOT NULL UNIQUE,
    p256dh          TEXT    NOT NULL,
    auth            TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);
CREATE INDEX push_subscriptions_by_shopper ON push_subscriptions (shopper_id);

-- How long before the start "starts soon" goes out; 0 turns it off.
ALTER TABLE live_sessions ADD COLUMN reminder_lead_minutes BIGINT NOT NULL DEFAULT 10
    CHECK (reminder_lead_minutes BETWEEN 0 AND 1440);
-- Which start time "starts soon" was fanned out for, and when "live now" was: each fan-out is
-- claimed by one node with a guarded update in the transaction that writes its reminders.
ALTER TABLE live_sessions ADD COLUMN reminders_soon_for_ms BIGINT;
ALTER TABLE live_sessions ADD COLUMN reminders_live_at_ms BIGINT;
-- A move not yet told: set by the edit that changes the start (in its own statement), cleared
-- by the node that fans "moved to …" out, in that fan-out's transaction.
ALTER TABLE live_sessions ADD COLUMN reminders_moved_to_ms BIGINT;

-- One message to one shopper about one session on one channel. The unique key makes
-- scheduling idempotent across nodes; `occasion_ms` is the start time the message is about
-- (a reschedule is a new occasion; 0 for "live now", once per session). A node claims due
-- rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) by setting `sending` with a lease; a row
-- whose lease ran out (its node died) is taken again, with the same `id`, which the channels
-- pass on as the message's id so a receiver can drop a repeat.
CREATE TABLE reminders (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    kind            TEXT    NOT NULL CHECK (kind IN ('soon', 'live', 'moved')),
    channel         TEXT    NOT NULL CHECK (channel IN ('web_push', 'wechat', 'sms')),
    occasion_ms     BIGINT  NOT NULL,
    due_at_ms       BIGINT  NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'due'
                    CHECK (state IN ('due', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    lease_until_ms  BIGINT,
    claimed_by      TEXT,
    last_error      TEXT,
    sent_at_ms      BIGINT,
    -- The notification's link (`/r/{id}.{mac}`, a MAC under the server's key) was opened.
    opened_at_ms    BIGINT,
    created_at_ms   BIGINT  NOT NULL,
    UNIQUE (session_id, shopper_id, kind, channel, occasion_ms)
);
CREATE INDEX reminders_to_send ON reminders (state, due_at_ms);
CREATE INDEX reminders_by_session ON reminders (session_id, channel, state);
