-- The closed sets of 0005, checked by chains of comparisons instead of `NOT IN (…)`: SQLite
-- codes an IN list of more than two constants as a temporary b-tree, which a trigger's program
-- builds again for every row it runs on (a multi-row INSERT of 16 postings built 16): under
-- `rewardgate bench` that was a tenth of the writer thread. Same rule, same message; NULL still
-- passes (NOT NULL columns refuse it).
DROP TRIGGER orders_status_known_insert;
CREATE TRIGGER orders_status_known_insert BEFORE INSERT ON orders WHEN NOT (NEW.status = 'PROCESSING' OR NEW.status = 'SUCCESS' OR NEW.status = 'FAILED' OR NEW.status = 'RECEIVED' OR NEW.status = 'REFUNDED')
BEGIN SELECT RAISE(ABORT, 'orders.status must be one of PROCESSING, SUCCESS, FAILED, RECEIVED, REFUNDED'); END;
DROP TRIGGER orders_status_known_update;
CREATE TRIGGER orders_status_known_update BEFORE UPDATE OF status ON orders WHEN NOT (NEW.status = 'PROCESSING' OR NEW.status = 'SUCCESS' OR NEW.status = 'FAILED' OR NEW.status = 'RECEIVED' OR NEW.status = 'REFUNDED')
BEGIN SELECT RAISE(ABORT, 'orders.status must be one of PROCESSING, SUCCESS, FAILED, RECEIVED, REFUNDED'); END;
DROP TRIGGER orders_product_type_known_insert;
CREATE TRIGGER orders_product_type_known_insert BEFORE INSERT ON orders WHEN NOT (NEW.product_type = 'RED_PACKET' OR NEW.product_type = 'WECHAT_COUPON' OR NEW.product_type = 'ALIPAY_COUPON' OR NEW.product_type = 'WECHAT_TRANSFER')
BEGIN SELECT RAISE(ABORT, 'orders.product_type must be one of RED_PACKET, WECHAT_COUPON, ALIPAY_COUPON, WECHAT_TRANSFER'); END;
DROP TRIGGER orders_product_type_known_update;
CREATE TRIGGER orders_product_type_known_update BEFORE UPDATE OF product_type ON orders WHEN NOT (NEW.product_type = 'RED_PACKET' OR NEW.product_type = 'WECHAT_COUPON' OR NEW.product_type = 'ALIPAY_COUPON' OR NEW.product_type = 'WECHAT_TRANSFER')
BEGIN SELECT RAISE(ABORT, 'orders.product_type must be one of RED_PACKET, WECHAT_COUPON, ALIPAY_COUPON, WECHAT_TRANSFER'); END;
DROP TRIGGER jobs_state_known_insert;
CREATE TRIGGER jobs_state_known_insert BEFORE INSERT ON jobs WHEN NOT (NEW.state = 'READY' OR NEW.state = 'IN_FLIGHT' OR NEW.state = 'DONE' OR NEW.state = 'STUCK')
BEGIN SELECT RAISE(ABORT, 'jobs.state must be one of READY, IN_FLIGHT, DONE, STUCK'); END;
DROP TRIGGER jobs_state_known_update;
CREATE TRIGGER jobs_state_known_update BEFORE UPDATE OF state ON jobs WHEN NOT (NEW.state = 'READY' OR NEW.state = 'IN_FLIGHT' OR NEW.state = 'DONE' OR NEW.state = 'STUCK')
BEGIN SELECT RAISE(ABORT, 'jobs.state must be one of READY, IN_FLIGHT, DONE, STUCK'); END;
DROP TRIGGER jobs_step_known_insert;
CREATE TRIGGER jobs_step_known_insert BEFORE INSERT ON jobs WHEN NOT (NEW.step = 'SEND' OR NEW.step = 'CHECK' OR NEW.step = 'FOLLOW')
BEGIN SELECT RAISE(ABORT, 'jobs.step must be one of SEND, CHECK, FOLLOW'); END;
DROP TRIGGER jobs_step_known_update;
CREATE TRIGGER jobs_step_known_update BEFORE UPDATE OF step ON jobs WHEN NOT (NEW.step = 'SEND' OR NEW.step = 'CHECK' OR NEW.step = 'FOLLOW')
BEGIN SELECT RAISE(ABORT, 'jobs.step must be one of SEND, CHECK, FOLLOW'); END;
DROP TRIGGER notifications_state_known_insert;
CREATE TRIGGER notifications_state_known_insert BEFORE INSERT ON notifications WHEN NOT (NEW.state = 'PENDING' OR NEW.state = 'SENDING' OR NEW.state = 'DELIVERED' OR NEW.state = 'FAILED')
BEGIN SELECT RAISE(ABORT, 'notifications.state must be one of PENDING, SENDING, DELIVERED, FAILED'); END;
DROP TRIGGER notifications_state_known_update;
CREATE TRIGGER notifications_state_known_update BEFORE UPDATE OF state ON notifications WHEN NOT (NEW.state = 'PENDING' OR NEW.state = 'SENDING' OR NEW.state = 'DELIVERED' OR NEW.state = 'FAILED')
BEGIN SELECT RAISE(ABORT, 'notifications.state must be one of PENDING, SENDING, DELIVERED, FAILED'); END;
DROP TRIGGER postings_kind_known_insert;
CREATE TRIGGER postings_kind_known_insert BEFORE INSERT ON postings WHEN NOT (NEW.kind = 'TOPUP' OR NEW.kind = 'HOLD' OR NEW.kind = 'CAPTURE' OR NEW.kind = 'RELEASE' OR NEW.kind = 'REFUND')
BEGIN SELECT RAISE(ABORT, 'postings.kind must be one of TOPUP, HOLD, CAPTURE, RELEASE, REFUND'); END;
DROP TRIGGER postings_kind_known_update;
CREATE TRIGGER postings_kind_known_update BEFORE UPDATE OF kind ON postings WHEN NOT (NEW.kind = 'TOPUP' OR NEW.kind = 'HOLD' OR NEW.kind = 'CAPTURE' OR NEW.kind = 'RELEASE' OR NEW.kind = 'REFUND')
BEGIN SELECT RAISE(ABORT, 'postings.kind must be one of TOPUP, HOLD, CAPTURE, RELEASE, REFUND'); END;
