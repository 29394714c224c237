-- Live coupons (issue 30, `domain::coupon`): a producer drops a coupon into a live session
-- (an amount or a percentage off, a minimum spend, a quota, one per shopper, valid for some
-- minutes); shoppers claim it through a gate (in memory on one node, a Redis script with
-- several) and it applies at checkout after the invite discount. The database is the truth
-- the gates are rebuilt from: `claimed` counts the claims written and never passes `quota`
-- (the claim writer's guarded update), and a shopper has at most one claim per coupon.
CREATE TABLE coupons (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('amount', 'percent')),
    -- Fen off (amount) or percent off (percent).
    value           BIGINT  NOT NULL CHECK (value > 0),
    min_spend_fen   BIGINT  NOT NULL DEFAULT 0 CHECK (min_spend_fen >= 0),
    quota           BIGINT  NOT NULL CHECK (quota BETWEEN 1 AND 1000000),
    claimed         BIGINT  NOT NULL DEFAULT 0 CHECK (claimed BETWEEN 0 AND quota),
    created_by      BIGINT  NOT NULL,
    created_at_ms   BIGINT  NOT NULL,
    expires_at_ms   BIGINT  NOT NULL,
    withdrawn_at_ms BIGINT
);
CREATE INDEX coupons_by_session ON coupons (session_id, created_at_ms);

-- One claim per shopper per coupon; `order_id` is the order it was used on (one coupon per
-- order), cleared again when that order is released unpaid.
CREATE TABLE coupon_claims (
    coupon_id       BIGINT  NOT NULL REFERENCES coupons(id) ON DELETE CASCADE,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    session_id      BIGINT  NOT NULL,
    claimed_at_ms   BIGINT  NOT NULL,
    order_id        BIGINT,
    PRIMARY KEY (coupon_id, shopper_id)
);
CREATE INDEX coupon_claims_by_shopper ON coupon_claims (shopper_id, session_id);
CREATE UNIQUE INDEX coupon_claims_by_order ON coupon_claims (order_id);

-- The coupon an order used and what it took off (after the invite discount): `paid_amount_fen`
-- is what is left.
ALTER TABLE orders ADD COLUMN coupon_id BIGINT;
ALTER TABLE orders ADD COLUMN coupon_fen BIGINT NOT NULL DEFAULT 0;
