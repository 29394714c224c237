-- A pinned note may carry a coupon of the session (issue 30): shoppers claim it from the pin.
-- Withdrawing or deleting the coupon leaves the note; the pin then shows no claim button.
ALTER TABLE live_pins ADD COLUMN coupon_id BIGINT REFERENCES coupons(id) ON DELETE SET NULL;
