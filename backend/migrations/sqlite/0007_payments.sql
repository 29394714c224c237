-- The demo payment provider's own ledger: one row per charge, keyed by the merchant order
-- number we send it (`order-{id}`), so a charge is made at most once and can be looked up
-- after a crash, the way a real provider's order query works.
CREATE TABLE demo_payments (
    merchant_ref    TEXT    PRIMARY KEY,
    amount_fen      BIGINT  NOT NULL,
    reference       TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);

-- The recovery of orders left between stock and payment reads them oldest first.
CREATE INDEX orders_pending ON orders (status, created_at_ms);
