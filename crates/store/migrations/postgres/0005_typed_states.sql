-- States are closed sets, enforced by the database as well as by the code; the Rabbitpre column
-- is named for what it holds.
ALTER TABLE orders RENAME COLUMN delivery_mode TO delivery;
ALTER TABLE orders ADD CONSTRAINT orders_status_known
    CHECK (status IN ('PROCESSING', 'SUCCESS', 'FAILED', 'RECEIVED', 'REFUNDED'));
ALTER TABLE orders ADD CONSTRAINT orders_product_type_known
    CHECK (product_type IN ('RED_PACKET', 'WECHAT_COUPON', 'ALIPAY_COUPON', 'WECHAT_TRANSFER'));
ALTER TABLE jobs ADD CONSTRAINT jobs_state_known CHECK (state IN ('READY', 'IN_FLIGHT', 'DONE', 'STUCK'));
ALTER TABLE jobs ADD CONSTRAINT jobs_step_known CHECK (step IN ('SEND', 'CHECK', 'FOLLOW'));
ALTER TABLE notifications ADD CONSTRAINT notifications_state_known
    CHECK (state IN ('PENDING', 'SENDING', 'DELIVERED', 'FAILED'));
ALTER TABLE postings ADD CONSTRAINT postings_kind_known
    CHECK (kind IN ('TOPUP', 'HOLD', 'CAPTURE', 'RELEASE', 'REFUND'));
