-- States are closed sets, enforced by the database as well as by the code (SQLite cannot add a
-- CHECK to an existing table: the same rules as triggers); the Rabbitpre column is named for
-- what it holds.
ALTER TABLE orders RENAME COLUMN delivery_mode TO delivery;
CREATE TRIGGER orders_status_known_insert BEFORE INSERT ON orders WHEN NEW.status NOT IN ('PROCESSING', 'SUCCESS', 'FAILED', 'RECEIVED', 'REFUNDED')
BEGIN SELECT RAISE(ABORT, 'orders.status must be one of PROCESSING, SUCCESS, FAILED, RECEIVED, REFUNDED'); END;
CREATE TRIGGER orders_status_known_update BEFORE UPDATE OF status ON orders WHEN NEW.status NOT IN ('PROCESSING', 'SUCCESS', 'FAILED', 'RECEIVED', 'REFUNDED')
BEGIN SELECT RAISE(ABORT, 'orders.status must be one of PROCESSING, SUCCESS, FAILED, RECEIVED, REFUNDED'); END;
CREATE TRIGGER orders_product_type_known_insert BEFORE INSERT ON orders WHEN NEW.product_type NOT IN ('RED_PACKET', 'WECHAT_COUPON', 'ALIPAY_COUPON', 'WECHAT_TRANSFER')
BEGIN SELECT RAISE(ABORT, 'orders.product_type must be one of RED_PACKET, WECHAT_COUPON, ALIPAY_COUPON, WECHAT_TRANSFER'); END;
CREATE TRIGGER orders_product_type_known_update BEFORE UPDATE OF product_type ON orders WHEN NEW.product_type NOT IN ('RED_PACKET', 'WECHAT_COUPON', 'ALIPAY_COUPON', 'WECHAT_TRANSFER')
BEGIN SELECT RAISE(ABORT, 'orders.product_type must be one of RED_PACKET, WECHAT_COUPON, ALIPAY_COUPON, WECHAT_TRANSFER'); END;
CREATE TRIGGER jobs_state_known_insert BEFORE INSERT ON jobs WHEN NEW.state NOT IN ('READY', 'IN_FLIGHT', 'DONE', 'STUCK')
BEGIN SELECT RAISE(ABORT, 'jobs.state must be one of READY, IN_FLIGHT, DONE, STUCK'); END;
CREATE TRIGGER jobs_state_known_update BEFORE UPDATE OF state ON jobs WHEN NEW.state NOT IN ('READY', 'IN_FLIGHT', 'DONE', 'STUCK')
BEGIN SELECT RAISE(ABORT, 'jobs.state must be one of READY, IN_FLIGHT, DONE, STUCK'); END;
CREATE TRIGGER jobs_step_known_insert BEFORE INSERT ON jobs WHEN NEW.step NOT IN ('SEND', 'CHECK', 'FOLLOW')
BEGIN SELECT RAISE(ABORT, 'jobs.step must be one of SEND, CHECK, FOLLOW'); END;
CREATE TRIGGER jobs_step_known_update BEFORE UPDATE OF step ON jobs WHEN NEW.step NOT IN ('SEND', 'CHECK', 'FOLLOW')
BEGIN SELECT RAISE(ABORT, 'jobs.step must be one of SEND, CHECK, FOLLOW'); END;
CREATE TRIGGER notifications_state_known_insert BEFORE INSERT ON notifications WHEN NEW.state NOT IN ('PENDING', 'SENDING', 'DELIVERED', 'FAILED')
BEGIN SELECT RAISE(ABORT, 'notifications.state must be one of PENDING, SENDING, DELIVERED, FAILED'); END;
CREATE TRIGGER notifications_state_known_update BEFORE UPDATE OF state ON notifications WHEN NEW.state NOT IN ('PENDING', 'SENDING', 'DELIVERED', 'FAILED')
BEGIN SELECT RAISE(ABORT, 'notifications.state must be one of PENDING, SENDING, DELIVERED, FAILED'); END;
CREATE TRIGGER postings_kind_known_insert BEFORE INSERT ON postings WHEN NEW.kind NOT IN ('TOPUP', 'HOLD', 'CAPTURE', 'RELEASE', 'REFUND')
BEGIN SELECT RAISE(ABORT, 'postings.kind must be one of TOPUP, HOLD, CAPTURE, RELEASE, REFUND'); END;
CREATE TRIGGER postings_kind_known_update BEFORE UPDATE OF kind ON postings WHEN NEW.kind NOT IN ('TOPUP', 'HOLD', 'CAPTURE', 'RELEASE', 'REFUND')
BEGIN SELECT RAISE(ABORT, 'postings.kind must be one of TOPUP, HOLD, CAPTURE, RELEASE, REFUND'); END;
