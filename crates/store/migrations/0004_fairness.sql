-- Fair claims: jobs are taken account by account and reports host by host, so that one
-- rate-limited account or one slow callback host never holds back the others.
ALTER TABLE notifications ADD COLUMN host TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_host_due ON notifications (state, host, next_at);
CREATE INDEX jobs_account_due ON jobs (state, channel_account_id, not_before);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
