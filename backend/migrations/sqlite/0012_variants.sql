-- A product's variants (shade, size): each with its own stock and, optionally, its own price.
-- A product with variants keeps its stock column as the sum of theirs (every change moves
-- both in one transaction), so what counts per product (sold out, the live room's stock, the
-- discount rule: one discounted unit per shopper per product) stays per product.
CREATE TABLE product_variants (
    id              INTEGER PRIMARY KEY,
    product_id      BIGINT  NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    position        BIGINT  NOT NULL,
    name            TEXT    NOT NULL,
    stock           BIGINT  NOT NULL CHECK (stock >= 0),
    price_fen       BIGINT  CHECK (price_fen IS NULL OR price_fen > 0),
    UNIQUE (product_id, name)
);
CREATE INDEX product_variants_by_product ON product_variants (product_id, position);

-- The variant an order line bought, and its name as it was then.
ALTER TABLE order_lines ADD COLUMN variant_id BIGINT REFERENCES product_variants(id);
ALTER TABLE order_lines ADD COLUMN variant_name TEXT NOT NULL DEFAULT '';
