-- Parcels: a paid order once the host shipped it, with the carrier and tracking number the
-- shopper sees in "My orders". One parcel per order (an order has one line); correcting a
-- tracking number replaces it.
CREATE TABLE shipments (
    order_id        BIGINT  PRIMARY KEY REFERENCES orders(id),
    carrier         TEXT    NOT NULL,
    tracking_no     TEXT    NOT NULL,
    shipped_at_ms   BIGINT  NOT NULL
);
