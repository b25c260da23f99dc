-- jobs_due (state, not_before) answers no query that jobs_account_due (state, channel_account_id,
-- not_before) and jobs_lease (state, lease_until) do not: the dispatcher claims READY jobs per
-- channel account, expired leases by lease_until, and the gauges group by state. It was one more
-- index entry written by every order's intake and every job's state change.
DROP INDEX IF EXISTS jobs_due;
