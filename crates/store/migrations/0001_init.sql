-- Catalogue objects (channel accounts, templates, products, activities, merchants, businesses,
-- integrations) as JSON documents: the domain parses and validates them.
CREATE TABLE catalog (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

-- Double-entry ledger: balances kept as columns, updated in the same transaction as each posting.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    business_id TEXT,
    kind TEXT NOT NULL,
    balance BIGINT NOT NULL DEFAULT 0,
    credit_line BIGINT NOT NULL DEFAULT 0
);
INSERT INTO accounts (id, business_id, kind) VALUES ('platform:FUNDING', NULL, 'FUNDING');

CREATE TABLE postings (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    from_account TEXT NOT NULL REFERENCES accounts (id),
    to_account TEXT NOT NULL REFERENCES accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    order_id BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX postings_order ON postings (order_id);

CREATE TABLE topups (
    business_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    amount BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (business_id, reference)
);

CREATE TABLE nonces (
    business_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (business_id, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    order_code TEXT NOT NULL UNIQUE,
    business_id TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    biz_code TEXT NOT NULL,
    product_type TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    template_id TEXT,
    product_code TEXT,
    activity_id TEXT,
    open_id TEXT,
    mobile TEXT,
    app_id TEXT,
    amount BIGINT,
    settlement BIGINT NOT NULL,
    callback_url TEXT,
    description TEXT,
    channel_account_id TEXT NOT NULL,
    upstream_id TEXT,
    error_code TEXT,
    error_message TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (business_id, biz_code)
);
CREATE INDEX orders_status ON orders (status, id);

-- The delivery outbox: one row per accepted order, written with the order and its hold.
CREATE TABLE jobs (
    order_id BIGINT PRIMARY KEY REFERENCES orders (id),
    channel_account_id TEXT NOT NULL,
    upstream_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, not_before);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
