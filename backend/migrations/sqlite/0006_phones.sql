-- Verified mobile numbers: one number is one shopper; the discount policy can require one.

ALTER TABLE discount_policies ADD COLUMN verified_phone_required BIGINT NOT NULL DEFAULT 0
    CHECK (verified_phone_required IN (0, 1));

-- A shopper's verified number (E.164). Verifying a number that belongs to another shopper
-- signs this browser in as that shopper instead.
CREATE TABLE shopper_phones (
    phone           TEXT    PRIMARY KEY,
    shopper_id      BIGINT  NOT NULL UNIQUE REFERENCES shoppers(id),
    verified_at_ms  BIGINT  NOT NULL
);

-- The one-time code last sent to a number: stored as an HMAC, valid until expires_at_ms, at
-- most a few attempts.
CREATE TABLE phone_codes (
    phone           TEXT    PRIMARY KEY,
    code_hash       TEXT    NOT NULL,
    expires_at_ms   BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    created_at_ms   BIGINT  NOT NULL
);
