-- Delivery: what a job does next, the upstream request frozen at its first send (every retry
-- resends exactly it), attempts, rate buckets shared by every process, account pauses, and the
-- callback outbox written with each order transition.
ALTER TABLE jobs ADD COLUMN step TEXT NOT NULL DEFAULT 'SEND';
ALTER TABLE jobs ADD COLUMN request TEXT;
ALTER TABLE jobs ADD COLUMN first_sent_at INTEGER;

CREATE TABLE job_attempts (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    latency_ms INTEGER NOT NULL,
    worker TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX job_attempts_order ON job_attempts (order_id, id);

CREATE TABLE rate_buckets (
    channel_account_id TEXT PRIMARY KEY,
    rate_per_minute INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    units INTEGER NOT NULL,
    refilled_at INTEGER NOT NULL
);

CREATE TABLE channel_pauses (
    channel_account_id TEXT PRIMARY KEY,
    until_at INTEGER NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    notify_id TEXT NOT NULL UNIQUE,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    version INTEGER NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (order_id, version)
);
CREATE INDEX notifications_due ON notifications (state, next_at);
