-- A shopper's delivery addresses (mainland China format first; `domain::address` checks
-- them), the one used last first; and the copy of an address an order ships to (editing the
-- address book changes no order).
CREATE TABLE addresses (
    id              INTEGER PRIMARY KEY,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    recipient       TEXT    NOT NULL,
    phone           TEXT    NOT NULL,
    province        TEXT    NOT NULL,
    city            TEXT    NOT NULL,
    district        TEXT    NOT NULL,
    street          TEXT    NOT NULL,
    last_used_ms    BIGINT  NOT NULL
);
CREATE INDEX addresses_by_shopper ON addresses (shopper_id, last_used_ms);

CREATE TABLE order_addresses (
    order_id        BIGINT  PRIMARY KEY REFERENCES orders(id),
    recipient       TEXT    NOT NULL,
    phone           TEXT    NOT NULL,
    province        TEXT    NOT NULL,
    city            TEXT    NOT NULL,
    district        TEXT    NOT NULL,
    street          TEXT    NOT NULL
);
