-- Lucky draws (issue 30, `domain::draw`). A draw opens with a random seed kept here and only
-- its commitment (SHA-256, hex) published; it closes once (`state` goes from 'open' to
-- 'closed' in one conditional UPDATE, whichever node gets there first), and then the seed,
-- the entrants' public keys and the winners are published. One open draw per session.
CREATE TABLE draws (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    prize           TEXT    NOT NULL,
    -- The session's product the prize orders' line refers to (their line names the prize).
    product_id      BIGINT  NOT NULL REFERENCES products(id),
    winners         BIGINT  NOT NULL CHECK (winners BETWEEN 1 AND 100),
    need_reserved   BIGINT  NOT NULL DEFAULT 0 CHECK (need_reserved IN (0, 1)),
    need_phone      BIGINT  NOT NULL DEFAULT 0 CHECK (need_phone IN (0, 1)),
    need_in_room    BIGINT  NOT NULL DEFAULT 0 CHECK (need_in_room IN (0, 1)),
    need_invited    BIGINT  NOT NULL DEFAULT 0 CHECK (need_invited IN (0, 1)),
    -- Empty: no keyword; otherwise commenting it in the chat enters (and is the only way in).
    keyword         TEXT    NOT NULL DEFAULT '',
    seed_hex        TEXT    NOT NULL,
    commitment      TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    opened_by       BIGINT  NOT NULL,
    opened_at_ms    BIGINT  NOT NULL,
    closes_at_ms    BIGINT  NOT NULL,
    closed_at_ms    BIGINT
);
CREATE INDEX draws_by_session ON draws (session_id, id);
CREATE UNIQUE INDEX draws_one_open ON draws (session_id) WHERE state = 'open';
CREATE INDEX draws_open ON draws (state, closes_at_ms);

-- One row per entry. `entrant_key` is the public key published with the proof: an HMAC of
-- the verified phone number (one phone, one entry, whichever account) or, without one, of
-- the shopper id, under the server's key and the draw's id (nothing links it to a phone).
CREATE TABLE draw_entries (
    draw_id         BIGINT  NOT NULL REFERENCES draws(id) ON DELETE CASCADE,
    entrant_key     TEXT    NOT NULL,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    nickname        TEXT    NOT NULL,
    entered_at_ms   BIGINT  NOT NULL,
    PRIMARY KEY (draw_id, entrant_key)
);
CREATE UNIQUE INDEX draw_entries_one_per_shopper ON draw_entries (draw_id, shopper_id);

-- The winners in the order drawn, each with their ¥0 prize order.
CREATE TABLE draw_winners (
    draw_id         BIGINT  NOT NULL REFERENCES draws(id) ON DELETE CASCADE,
    position        BIGINT  NOT NULL,
    entrant_key     TEXT    NOT NULL,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    order_id        BIGINT  REFERENCES orders(id),
    PRIMARY KEY (draw_id, position)
);

-- A prize order's line names the prize (shown instead of the product's name).
ALTER TABLE order_lines ADD COLUMN prize TEXT;
