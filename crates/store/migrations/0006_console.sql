-- The operator console's sessions: the hash of the cookie's random id (never the id itself),
-- the session's CSRF token, and a fingerprint of the admin token it logged in with, so that
-- changing RG_ADMIN_TOKEN ends every session made with the old one.
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    token_fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Since when a channel account has been paused (the console shows it).
ALTER TABLE channel_pauses ADD COLUMN since_at BIGINT NOT NULL DEFAULT 0;

-- The console's time windows (orders of the last hour and day, per minute).
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX job_attempts_at ON job_attempts (at);

-- The console finds an order by its bizCode without knowing the business.
CREATE INDEX orders_biz_code ON orders (biz_code);
