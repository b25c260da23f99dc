-- Callback attempts (what an operator sees), an order's delivery mode (Rabbitpre's mini-program
-- red packets), Rabbitpre's user-id → openid mapping.
CREATE TABLE notification_attempts (
    id BIGSERIAL PRIMARY KEY,
    notify_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    http_status BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX notification_attempts_notify ON notification_attempts (notify_id, id);

ALTER TABLE orders ADD COLUMN delivery_mode TEXT;

CREATE TABLE openid_mappings (
    integration_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    openid TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (integration_id, user_id)
);
