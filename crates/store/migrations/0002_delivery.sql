-- Delivery: what a job does next, the upstream request frozen at its first send (every retry
-- resends exactly it), attempts, rate buckets shared by every process, account pauses, and the
-- callback outbox written with each order transition.
ALTER TABLE jobs ADD COLUMN step TEXT NOT NULL DEFAULT 'SEND';
ALTER TABLE jobs ADD COLUMN request TEXT;
ALTER TABLE jobs ADD COLUMN first_sent_at BIGINT;

CREATE TABLE job_attempts (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL,
    step TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    latency_ms BIGINT NOT NULL,
    worker TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX job_attempts_order ON job_attempts (order_id, id);

CREATE TABLE rate_buckets (
    channel_account_id TEXT PRIMARY KEY,
    rate_per_minute BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    units BIGINT NOT NULL,
    refilled_at BIGINT NOT NULL
);

CREATE TABLE channel_pauses (
    channel_account_id TEXT PRIMARY KEY,
    until_at BIGINT NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    notify_id TEXT NOT NULL UNIQUE,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    version BIGINT NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (order_id, version)
);
CREATE INDEX notifications_due ON notifications (state, next_at);
