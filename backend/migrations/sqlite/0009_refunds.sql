-- Refunds a host made through the payment provider: one per order, the whole order (an order
-- has one line). A refund gives back everything the order took: its units to stock (when
-- they were not shipped) and its discounted unit to the shopper's allowance and to the
-- product's discount cap. The order itself stays 'paid': refunded is "paid, then refunded".
CREATE TABLE refunds (
    id              INTEGER PRIMARY KEY,
    order_id        BIGINT  NOT NULL UNIQUE REFERENCES orders(id),
    out_refund_no   TEXT    NOT NULL UNIQUE,
    amount_fen      BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason          TEXT    NOT NULL,
    provider_ref    TEXT,
    created_at_ms   BIGINT  NOT NULL,
    settled_at_ms   BIGINT
);
