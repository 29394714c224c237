-- Shoppers, reservations, invites, the discount policy, presentation facts, orders with a
-- discount ledger, host accounts. Timestamps are epoch milliseconds; money is integer fen.

-- Server-generated secrets (the cookie signing key), created on first start.
CREATE TABLE app_secrets (
    name    TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);

CREATE TABLE shoppers (
    id              INTEGER PRIMARY KEY,
    nickname        TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);

-- What the host does during the live session.
ALTER TABLE live_sessions ADD COLUMN current_product_id BIGINT;
ALTER TABLE products ADD COLUMN presented_at_ms BIGINT;
ALTER TABLE products ADD COLUMN discounted_units BIGINT NOT NULL DEFAULT 0;

CREATE TABLE discount_policies (
    session_id                  BIGINT PRIMARY KEY REFERENCES live_sessions(id) ON DELETE CASCADE,
    percent_off                 BIGINT NOT NULL DEFAULT 50 CHECK (percent_off BETWEEN 1 AND 100),
    friends_needed              BIGINT NOT NULL DEFAULT 1 CHECK (friends_needed >= 1),
    units_per_shopper           BIGINT NOT NULL DEFAULT 1 CHECK (units_per_shopper >= 0),
    units_cap                   BIGINT CHECK (units_cap IS NULL OR units_cap >= 0),
    purchase_limit              BIGINT NOT NULL DEFAULT 5 CHECK (purchase_limit >= 1)
);
INSERT INTO discount_policies (session_id) SELECT id FROM live_sessions;

CREATE TABLE invites (
    id              INTEGER PRIMARY KEY,
    code            TEXT    NOT NULL UNIQUE,
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    inviter_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    created_at_ms   BIGINT  NOT NULL,
    UNIQUE (session_id, inviter_id)
);

-- One row per shopper per session. invite_id is the invite they joined through (the first).
CREATE TABLE reservations (
    session_id      BIGINT  NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    shopper_id      BIGINT  NOT NULL REFERENCES shoppers(id),
    invite_id       BIGINT  REFERENCES invites(id),
    created_at_ms   BIGINT  NOT NULL,
    joined_at_ms    BIGINT,
    PRIMARY KEY (session_id, shopper_id)
);
CREATE INDEX reservations_by_invite ON reservations (invite_id);

CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY,
    shopper_id          BIGINT  NOT NULL REFERENCES shoppers(id),
    session_id          BIGINT  NOT NULL REFERENCES live_sessions(id),
    idempotency_key     TEXT    NOT NULL,
    request_hash        TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('pending_payment', 'paid', 'payment_failed')),
    full_amount_fen     BIGINT  NOT NULL,
    discount_fen        BIGINT  NOT NULL,
    paid_amount_fen     BIGINT  NOT NULL,
    payment_provider    TEXT    NOT NULL,
    payment_ref         TEXT,
    created_at_ms       BIGINT  NOT NULL,
    UNIQUE (shopper_id, idempotency_key)
);
CREATE INDEX orders_by_shopper ON orders (shopper_id, created_at_ms);
CREATE INDEX orders_by_session ON orders (session_id);

-- The discount ledger: every line says what was charged and why.
CREATE TABLE order_lines (
    id                      INTEGER PRIMARY KEY,
    order_id                BIGINT  NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    product_id              BIGINT  NOT NULL REFERENCES products(id),
    quantity                BIGINT  NOT NULL CHECK (quantity > 0),
    unit_price_fen          BIGINT  NOT NULL,
    discounted_units        BIGINT  NOT NULL,
    discount_per_unit_fen   BIGINT  NOT NULL,
    full_amount_fen         BIGINT  NOT NULL,
    discount_fen            BIGINT  NOT NULL,
    paid_amount_fen         BIGINT  NOT NULL,
    rule                    TEXT    NOT NULL,
    percent_off             BIGINT  NOT NULL,
    invite_id               BIGINT  REFERENCES invites(id)
);
CREATE INDEX order_lines_by_order ON order_lines (order_id);

-- Per shopper per product: units bought and discounted units used (limits enforced atomically).
CREATE TABLE purchase_counters (
    product_id          BIGINT  NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    shopper_id          BIGINT  NOT NULL REFERENCES shoppers(id),
    units               BIGINT  NOT NULL,
    discounted_units    BIGINT  NOT NULL,
    PRIMARY KEY (product_id, shopper_id)
);

CREATE TABLE host_accounts (
    id              INTEGER PRIMARY KEY,
    host_id         BIGINT  NOT NULL UNIQUE REFERENCES hosts(id),
    email           TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    created_at_ms   BIGINT  NOT NULL
);

-- Server-side host sign-in sessions; the cookie holds a random token, we store its hash.
CREATE TABLE host_sessions (
    token_hash      TEXT    PRIMARY KEY,
    account_id      BIGINT  NOT NULL REFERENCES host_accounts(id) ON DELETE CASCADE,
    created_at_ms   BIGINT  NOT NULL,
    expires_at_ms   BIGINT  NOT NULL
);
