-- An upstream's notification that arrives while its job is in flight (a 商家转账 confirmed during
-- a query): kept here, so that the attempt's own next time gives way to "now" when it is
-- recorded, in whichever process — the hint is not lost with the process that received it.
ALTER TABLE jobs ADD COLUMN nudged_at BIGINT;
