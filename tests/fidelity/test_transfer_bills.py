"""Proof of fidelity for 商家转账 (WeChat Pay API v3 transfer-bills): wechatpayv3 2.0.4, an
independent implementation from PyPI, unmodified, drives the sandbox's create, query and cancel
(`mch_transfer_bills`, `mch_transfer_bills_query`, `mch_transfer_bills_cancel`, which exist in
2.0.4) and opens the sandbox's notifications with its own `decrypt_callback` / `callback`.

So a passing run shows: the sandbox accepts the SDK's request signatures (including a cancel with
an empty body), the SDK accepts the sandbox's answer signatures, the SDK's RSA-OAEP `user_name`
decrypts on the sandbox's side, and the sandbox's notifications verify and decrypt with the SDK's
own code (signature over timestamp/nonce/body with the platform key, AEAD_AES_256_GCM under the
APIv3 key). Notifications reach a small HTTP receiver on loopback (the sandbox lets plain HTTP
through to loopback only; the real upstream requires https).
"""
import http.server
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wechatpayv3 import WeChatPay as WeChatPayV3, WeChatPayType

TIMEOUT = 10
APPID = "wxfidelity0000003"
API_V3_KEY = "fidelityapiv3key" + "0" * 16
REPORT_INFOS = [{"info_type": "活动名称", "info_content": "新会员有礼"},
                {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}]


class Receiver:
    """The merchant's notify endpoint: keeps (headers, body) of each POST and answers 204."""

    def __init__(self):
        self.got = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body.decode("utf-8")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify/transfer-bills"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, seconds=10):
        deadline = time.monotonic() + seconds
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.got) >= n, f"{len(self.got)} notifications, expected {n}"
        return self.got

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def other_key():
    """An RSA private key nobody registered, as PKCS#8 PEM."""
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).decode()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Merchant:
    """A fresh v3 merchant registered in the sandbox, and a wechatpayv3 client for it."""

    def __init__(self, sandbox, keys, uid, platform_private=None, **extra):
        n = uid()
        self.sandbox = sandbox
        self.mch_id = f"17{n:08d}"
        self.serial = f"5157F09EFDC096DE15EBE81A{n:08X}"
        self.platform_serial = f"PUB_KEY_ID_01142321349124100000{n:08d}"
        sandbox.put(f"/sandbox/v1/accounts/wechat-v3/{self.mch_id}", dict({
            "merchantPublicKeyPem": keys.merchant_public,
            "merchantSerialNo": self.serial,
            "platformPrivateKeyPem": platform_private or keys.platform_private,
            "platformSerialNo": self.platform_serial,
            "apiV3Key": API_V3_KEY,
            "stocks": [],
        }, **extra))
        self.wp = WeChatPayV3(wechatpay_type=WeChatPayType.MINIPROG, mchid=self.mch_id,
                              private_key=keys.merchant_private, cert_serial_no=self.serial,
                              appid=APPID, apiv3_key=API_V3_KEY, timeout=TIMEOUT,
                              public_key=keys.platform_public, public_key_id=self.platform_serial)
        self.wp._core._gate_way = sandbox.http

    def create(self, out_bill_no, amount, notify_url, **kw):
        args = dict(out_bill_no=out_bill_no, transfer_scene_id="1000", openid="oFidelityTB_1",
                    transfer_amount=amount, transfer_remark="新会员奖励", user_recv_perception="现金奖励",
                    transfer_scene_report_infos=REPORT_INFOS, notify_url=notify_url)
        args.update(kw)
        code, text = self.wp.mch_transfer_bills(**args)
        return code, json.loads(text)

    def query(self, out_bill_no):
        code, text = self.wp.mch_transfer_bills_query(out_bill_no=out_bill_no)
        return code, json.loads(text)

    def bill(self, out_bill_no):
        r = self.sandbox.s.get(f"{self.sandbox.http}/sandbox/v1/transfer-bills/{out_bill_no}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


def test_sdk_create_query_confirm_and_decrypt_notification(sandbox, keys, uid, receiver):
    m = Merchant(sandbox, keys, uid)
    no = f"FIDTB{uid():012d}"
    code, body = m.create(no, 30, receiver.url)
    assert code == 200, body
    assert body["state"] == "WAIT_USER_CONFIRM" and body["package_info"] and body["transfer_bill_no"]
    code, q = m.query(no)
    assert (code, q["state"], q["transfer_amount"], q["openid"]) == (200, "WAIT_USER_CONFIRM", 30, "oFidelityTB_1")
    assert "package_info" not in q  # the real query does not return it
    r = sandbox.post(f"/sandbox/v1/transfer-bills/{no}/confirm")
    assert r.status_code == 200, r.text
    code, q = m.query(no)
    assert (code, q["state"]) == (200, "SUCCESS")
    effects = sandbox.effects(no)
    assert [(e["channel"], e["amountFen"], e["user"]) for e in effects] == [("wechat_transfer_bills", 30, "oFidelityTB_1")]
    headers, text = receiver.wait(1)[0]
    plain = m.wp.decrypt_callback(headers, text)  # the SDK verifies the signature, then decrypts
    assert plain, "the SDK refused the sandbox's notification"
    resource = json.loads(plain)
    assert (resource["out_bill_no"], resource["state"], resource["transfer_amount"], resource["mch_id"]) == \
        (no, "SUCCESS", 30, m.mch_id)
    assert resource["transfer_bill_no"] == body["transfer_bill_no"]
    whole = m.wp.callback(headers, text)
    assert whole["event_type"] == "MCHTRANSFER.BILL.FINISHED" and whole["resource"]["state"] == "SUCCESS"
    # A body changed in transit no longer verifies for the SDK.
    assert m.wp.decrypt_callback(headers, text.replace("商家转账单据终态通知", "商家转账单据通知")) is None


def test_sdk_user_name_is_decrypted_by_the_sandbox(sandbox, keys, uid, receiver):
    m = Merchant(sandbox, keys, uid)
    no = f"FIDTB{uid():012d}"
    # 2000 yuan: the SDK encrypts user_name (RSA-OAEP SHA-1 with the public key) and names the
    # key in Wechatpay-Serial.
    code, body = m.create(no, 200_000, receiver.url, user_name="张三")
    assert code == 200, body
    assert m.bill(no)["userName"] == "张三"


def test_sdk_same_number_other_parameters_invalid_request(sandbox, keys, uid, receiver):
    m = Merchant(sandbox, keys, uid)
    no = f"FIDTB{uid():012d}"
    code, first = m.create(no, 30, receiver.url)
    assert code == 200, first
    code, again = m.create(no, 30, receiver.url)
    assert (code, again["transfer_bill_no"]) == (200, first["transfer_bill_no"])
    code, other = m.create(no, 31, receiver.url)
    assert (code, other["code"]) == (400, "INVALID_REQUEST"), other


def test_sdk_scene_rules(sandbox, keys, uid, receiver):
    m = Merchant(sandbox, keys, uid)
    code, body = m.create(f"FIDTB{uid():012d}", 30, receiver.url, transfer_scene_report_infos=REPORT_INFOS[:1])
    assert (code, body["code"]) == (400, "PARAM_ERROR"), body
    code, body = m.create(f"FIDTB{uid():012d}", 30, receiver.url, user_recv_perception="佣金报酬")
    assert (code, body["code"]) == (400, "INVALID_REQUEST"), body
    code, body = m.create(f"FIDTB{uid():012d}", 9, receiver.url)
    assert (code, body["code"]) == (400, "INVALID_REQUEST"), body


def test_sdk_cancel_then_cancelled_notification(sandbox, keys, uid, receiver):
    m = Merchant(sandbox, keys, uid)
    no = f"FIDTB{uid():012d}"
    assert m.create(no, 40, receiver.url)[0] == 200
    code, text = m.wp.mch_transfer_bills_cancel(out_bill_no=no)  # an empty, signed POST
    body = json.loads(text)
    assert (code, body["state"]) == (200, "CANCELING"), body
    code, q = m.query(no)
    assert (code, q["state"]) == (200, "CANCELLED")
    assert sandbox.effects(no) == []
    headers, text = receiver.wait(1)[0]
    assert json.loads(m.wp.decrypt_callback(headers, text))["state"] == "CANCELLED"


def test_sdk_rejects_notifications_signed_by_another_key(sandbox, keys, uid, receiver, other_key):
    m = Merchant(sandbox, keys, uid, platform_private=other_key)
    no = f"FIDTB{uid():012d}"
    with pytest.raises(Exception, match="failed to verify the signature"):
        m.create(no, 30, receiver.url)
    assert sandbox.post(f"/sandbox/v1/transfer-bills/{no}/confirm").status_code == 200
    headers, text = receiver.wait(1)[0]
    assert m.wp.decrypt_callback(headers, text) is None
