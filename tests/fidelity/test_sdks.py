"""Proof of fidelity: the real merchant SDKs, unmodified, talk to rewardgate's sandbox as they would
to the real hosts — wechatpy 1.8.18 (WeChat Pay v2, over mTLS), wechatpayv3 2.0.4 (WeChat Pay v3,
public-key mode) and python-alipay-sdk 3.4.0 (Alipay gateway). Each SDK signs its requests itself
and checks the answers as it does upstream (v3 and Alipay verify the answer signature; wechatpy
does not verify v2 answer signatures at all), so a passing happy path shows the sandbox accepts the
SDK's signatures and produces answers the SDK accepts; the bad paths show the real error codes
reach the caller in the shape the SDK surfaces them.

Only per-instance SDK settings are changed (base URL, the wechatpy session's TLS trust); no
environment variable is touched.
"""
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from alipay import AliPay, AliPayConfig
from alipay.exceptions import AliPayException, AliPayValidationError
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpayv3 import WeChatPay as WeChatPayV3, WeChatPayType

TIMEOUT = 10  # seconds; no test injects faults, so every answer is immediate


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def other_key():
    """An RSA key nobody registered: PKCS#8 private PEM and SPKI public PEM."""
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).decode()
    return k, priv


@pytest.fixture(scope="module")
def other_client_cert(tmp_path_factory, other_key):
    """A self-signed client certificate for the same mch_id (CN) but another key: not the one
    registered for the merchant."""
    k, priv = other_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "1900000109")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(k, hashes.SHA256()))
    d = tmp_path_factory.mktemp("othercert")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_text(priv)
    return str(d / "cert.pem"), str(d / "key.pem")


# --------------------------------------------------------------------------- WeChat Pay v2 (wechatpy)

V2_APPID = "wxfidelity0000001"


class V2:
    """A fresh WeChat Pay v2 merchant registered in the sandbox (client certificate required)."""

    def __init__(self, sandbox, keys, uid, cert_required=True):
        n = uid()
        self.sandbox, self.keys, self.uid = sandbox, keys, uid
        self.mch_id = f"19{n:08d}"
        self.api_key = f"fidelityapikey{n:018d}"
        body = {"apiKey": self.api_key, "appIds": [V2_APPID], "balance": 10000}
        if cert_required:
            body["certPem"] = keys.wx_cert
        view = sandbox.put(f"/sandbox/v1/accounts/wechat-v2/{self.mch_id}", body)
        assert view["mtls"] is cert_required

    def client(self, api_key=None, tls=True, cert=None):
        """wechatpy's client; `cert` is (cert path, key path), by default the merchant's own."""
        if tls and cert is None:
            cert = (self.keys.wx_cert_path, self.keys.wx_key_path)
        mch_cert, mch_key = cert if cert else (None, None)
        wp = WeChatPay(appid=V2_APPID, api_key=api_key or self.api_key, mch_id=self.mch_id,
                       mch_cert=mch_cert, mch_key=mch_key, timeout=TIMEOUT)
        wp.API_BASE_URL = (self.sandbox.https if tls else self.sandbox.http) + "/"
        # Trust the sandbox's self-signed server certificate on this client only. trust_env=False
        # because REQUESTS_CA_BUNDLE in the environment would otherwise override session.verify.
        wp._http.trust_env = False
        if tls:
            wp._http.verify = self.sandbox.cert
        return wp

    def billno(self):
        """mch_id + yyyymmdd + 10 digits, the documented mch_billno shape."""
        return f"{self.mch_id}{datetime.date.today():%Y%m%d}{self.uid():010d}"

    def openid(self):
        return f"oFidelity_{self.uid()}"


def send(wp, openid, amount, billno, act_name="fidelity"):
    return wp.redpack.send(openid, amount, "rewardgate", act_name, "congratulations", "fidelity test",
                           client_ip="10.0.0.1", out_trade_no=billno)


def pay_error(excinfo):
    e = excinfo.value
    return e.return_code, e.result_code, e.errcode


def test_v2_redpack_send_query_claim(sandbox, keys, uid):
    m = V2(sandbox, keys, uid)
    wp, billno, openid = m.client(), m.billno(), m.openid()
    res = send(wp, openid, 100, billno)
    assert res["return_code"] == "SUCCESS" and res["result_code"] == "SUCCESS"
    assert res["send_listid"], res
    assert res["mch_billno"] == billno and res["total_amount"] == "100" and res["re_openid"] == openid

    q = wp.redpack.query(billno)
    assert q["status"] == "SENT", q
    assert q["mch_billno"] == billno and q["detail_id"] == res["send_listid"] and q["total_amount"] == "100"

    r = sandbox.post(f"/sandbox/v1/redpacks/{billno}/claim")
    assert r.status_code == 200, r.text
    q = wp.redpack.query(billno)
    assert q["status"] == "RECEIVED", q
    assert q["hblist"]["hbinfo"]["openid"] == openid and q["hblist"]["hbinfo"]["amount"] == "100"


def test_v2_redpack_same_billno_same_params_is_one_grant(sandbox, keys, uid):
    m = V2(sandbox, keys, uid)
    wp, billno, openid = m.client(), m.billno(), m.openid()
    first = send(wp, openid, 150, billno)
    again = send(wp, openid, 150, billno)
    assert first["send_listid"] and again["send_listid"] == first["send_listid"]
    effects = sandbox.effects(billno)
    assert len(effects) == 1, effects
    assert effects[0]["channel"] == "WECHAT_REDPACK" and effects[0]["amountFen"] == 150 and effects[0]["user"] == openid


def test_v2_redpack_same_billno_other_amount_fatal_error(sandbox, keys, uid):
    m = V2(sandbox, keys, uid)
    wp, billno, openid = m.client(), m.billno(), m.openid()
    send(wp, openid, 100, billno)
    with pytest.raises(WeChatPayException) as ei:
        send(wp, openid, 200, billno)
    assert pay_error(ei) == ("SUCCESS", "FAIL", "FATAL_ERROR")
    assert len(sandbox.effects(billno)) == 1


@pytest.mark.parametrize("amount", [50, 20100], ids=["0.50-yuan", "201-yuan"])
def test_v2_redpack_money_limit(sandbox, keys, uid, amount):
    m = V2(sandbox, keys, uid)
    billno = m.billno()
    with pytest.raises(WeChatPayException) as ei:
        send(m.client(), m.openid(), amount, billno)
    assert pay_error(ei) == ("SUCCESS", "FAIL", "MONEY_LIMIT")
    assert sandbox.effects(billno) == []


def test_v2_bad_signature_sign_error(sandbox, keys, uid):
    m = V2(sandbox, keys, uid)
    billno = m.billno()
    wp = m.client(api_key="wrongapikey" + "0" * 21)
    with pytest.raises(WeChatPayException) as ei:
        send(wp, m.openid(), 100, billno)
    assert pay_error(ei)[2] == "SIGN_ERROR", str(ei.value)
    assert sandbox.effects(billno) == []


def test_v2_plain_http_without_certificate_ca_error(sandbox, keys, uid):
    m = V2(sandbox, keys, uid)
    billno = m.billno()
    with pytest.raises(WeChatPayException) as ei:
        send(m.client(tls=False, cert=False), m.openid(), 100, billno)
    assert pay_error(ei) == ("SUCCESS", "FAIL", "CA_ERROR")
    assert sandbox.effects(billno) == []


def test_v2_https_without_or_with_other_certificate_ca_error(sandbox, keys, uid, other_client_cert):
    m = V2(sandbox, keys, uid)
    for cert in (False, other_client_cert):
        billno = m.billno()
        with pytest.raises(WeChatPayException) as ei:
            send(m.client(cert=cert), m.openid(), 100, billno)
        assert pay_error(ei)[2] == "CA_ERROR", (cert, str(ei.value))
        assert sandbox.effects(billno) == []


def test_v2_account_without_certificate_accepts_plain_http(sandbox, keys, uid):
    m = V2(sandbox, keys, uid, cert_required=False)
    res = send(m.client(tls=False, cert=False), m.openid(), 100, m.billno())
    assert res["result_code"] == "SUCCESS" and res["send_listid"]


def test_v2_answers_are_unsigned_like_upstream(sandbox, keys, uid):
    """Real red-packet, gethbinfo, transfer and gettransferinfo answers carry no sign (WxJava #140,
    chanxuehong/wechat PR #220, wechatpay-axios-plugin #56); wechatpy, which never checks v2 answer
    signatures, works against them unchanged."""
    m = V2(sandbox, keys, uid)
    wp, billno, openid = m.client(), m.billno(), m.openid()
    res = send(wp, openid, 100, billno)
    assert res["result_code"] == "SUCCESS" and "sign" not in res, res
    q = wp.redpack.query(billno)
    assert q["status"] == "SENT" and "sign" not in q, q
    trade_no = f"FIDU{uid():012d}"
    t = wp.transfer.transfer(openid, 100, "fidelity", client_ip="10.0.0.1", check_name="NO_CHECK", out_trade_no=trade_no)
    assert t["result_code"] == "SUCCESS" and "sign" not in t, t
    tq = wp.transfer.query(trade_no)
    assert tq["status"] == "SUCCESS" and "sign" not in tq, tq


def test_v2_sdk_generated_and_alphanumeric_billnos(sandbox, keys, uid):
    """mch_billno is String(28) of 0-9a-zA-Z: wechatpy's own default (mch_id + a timestamp + 4
    digits) and a billno with letters both work."""
    m = V2(sandbox, keys, uid)
    wp = m.client()
    res = wp.redpack.send(m.openid(), 100, "rewardgate", "fidelity", "congratulations", "fidelity test",
                          client_ip="10.0.0.1")
    assert res["result_code"] == "SUCCESS" and len(res["mch_billno"]) <= 28, res
    billno = f"RG{uid():010d}abcXYZ"
    res = send(wp, m.openid(), 100, billno)
    assert res["result_code"] == "SUCCESS" and res["mch_billno"] == billno, res


def test_v2_systemerror_behind_return_code_fail(sandbox, keys, uid):
    """SYSTEMERROR comes as seed 002's failure example does: return_code=FAIL, result_code=FAIL,
    err_code. wechatpy surfaces the err_code; a retry with the same billno pays at most once."""
    m = V2(sandbox, keys, uid)
    wp, billno, openid = m.client(), m.billno(), m.openid()
    sandbox.put("/sandbox/v1/faults", {"systemError": 1.0})
    try:
        with pytest.raises(WeChatPayException) as ei:
            send(wp, openid, 100, billno)
        assert pay_error(ei) == ("FAIL", "FAIL", "SYSTEMERROR")
    finally:
        sandbox.put("/sandbox/v1/faults", {})
    res = send(wp, openid, 100, billno)
    assert res["result_code"] == "SUCCESS"
    assert len(sandbox.effects(billno)) == 1


def test_v2_transfer_and_query(sandbox, keys, uid):
    m = V2(sandbox, keys, uid)
    wp, openid = m.client(), m.openid()
    trade_no = f"FID{uid():012d}"
    res = wp.transfer.transfer(openid, 100, "fidelity transfer", client_ip="10.0.0.1", check_name="NO_CHECK",
                               out_trade_no=trade_no)
    assert res["return_code"] == "SUCCESS" and res["result_code"] == "SUCCESS"
    assert res["payment_no"] and res["partner_trade_no"] == trade_no
    q = wp.transfer.query(trade_no)
    assert q["status"] == "SUCCESS", q
    assert q["detail_id"] == res["payment_no"] and q["openid"] == openid and q["payment_amount"] == "100"
    effects = sandbox.effects(trade_no)
    assert [(e["channel"], e["amountFen"]) for e in effects] == [("WECHAT_TRANSFER", 100)]


# --------------------------------------------------------------------------- WeChat Pay v3 (wechatpayv3)

V3_APPID = "wxfidelity0000003"


class V3:
    """A fresh WeChat Pay v3 merchant with its stocks, and wechatpayv3 clients for it."""

    def __init__(self, sandbox, keys, uid, stocks, platform_private=None):
        n = uid()
        self.sandbox, self.keys = sandbox, keys
        self.mch_id = f"18{n:08d}"
        self.merchant_serial = f"5157F09EFDC096DE15EBE81A{n:08X}"
        self.platform_serial = f"PUB_KEY_ID_01142321349124100000{n:08d}"
        sandbox.put(f"/sandbox/v1/accounts/wechat-v3/{self.mch_id}", {
            "merchantPublicKeyPem": keys.merchant_public,
            "merchantSerialNo": self.merchant_serial,
            "platformPrivateKeyPem": platform_private or keys.platform_private,
            "platformSerialNo": self.platform_serial,
            "apiV3Key": "fidelityapiv3key" + "0" * 16,
            "stocks": stocks,
        })

    def client(self, private_key=None):
        wp = WeChatPayV3(wechatpay_type=WeChatPayType.MINIPROG, mchid=self.mch_id,
                         private_key=private_key or self.keys.merchant_private, cert_serial_no=self.merchant_serial,
                         appid=V3_APPID, apiv3_key="fidelityapiv3key" + "0" * 16, timeout=TIMEOUT,
                         public_key=self.keys.platform_public, public_key_id=self.platform_serial)
        wp._core._gate_way = self.sandbox.http
        # Record every answer-signature check the SDK makes (the SDK's own method, called through).
        core, real = wp._core, wp._core._verify_signature
        core.verifications = []

        def spy(headers, body):
            ok = real(headers, body)
            core.verifications.append(ok)
            return ok

        core._verify_signature = spy
        return wp

    def send(self, wp, stock_id, openid, out_request_no):
        code, text = wp.marketing_favor_stock_send(stock_id=stock_id, openid=openid, out_request_no=out_request_no,
                                                   stock_creator_mchid=self.mch_id)
        return code, json.loads(text)


def stock(stock_id, remaining=10, max_per_user=None, value=5):
    s = {"stockId": stock_id, "couponValue": value, "remaining": remaining}
    if max_per_user is not None:
        s["maxPerUser"] = max_per_user
    return s


def test_v3_coupon_send_happy_path_signature_verified(sandbox, keys, uid):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid)])
    wp = m.client()
    out_no = f"FIDV3{uid():015d}"
    code, body = m.send(wp, sid, "oFidelityV3_1", out_no)
    assert code == 200, body
    assert body["coupon_id"]
    assert wp._core.verifications == [True]  # the SDK checked the Wechatpay-Signature and it held
    effects = sandbox.effects(out_no)
    assert [(e["channel"], e["amountFen"], e["user"]) for e in effects] == [("WECHAT_COUPON", 500, "oFidelityV3_1")]


def test_v3_answer_signed_with_another_platform_key_is_rejected_by_sdk(sandbox, keys, uid, other_key):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid)], platform_private=other_key[1])
    wp = m.client()
    out_no = f"FIDV3{uid():015d}"
    with pytest.raises(Exception, match="failed to verify the signature"):
        m.send(wp, sid, "oFidelityV3_2", out_no)
    assert wp._core.verifications == [False]
    assert len(sandbox.effects(out_no)) == 1  # the sandbox did grant: only the answer's signature failed


def test_v3_same_out_request_no_same_coupon(sandbox, keys, uid):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid)])
    wp = m.client()
    out_no = f"FIDV3{uid():015d}"
    c1, b1 = m.send(wp, sid, "oFidelityV3_3", out_no)
    c2, b2 = m.send(wp, sid, "oFidelityV3_3", out_no)
    assert (c1, c2) == (200, 200)
    assert b1["coupon_id"] and b2["coupon_id"] == b1["coupon_id"]
    assert len(sandbox.effects(out_no)) == 1


def test_v3_exhausted_stock_not_enough(sandbox, keys, uid):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid, remaining=1)])
    wp = m.client()
    assert m.send(wp, sid, "oFidelityV3_4", f"FIDV3{uid():015d}")[0] == 200
    out_no = f"FIDV3{uid():015d}"
    code, body = m.send(wp, sid, "oFidelityV3_5", out_no)
    assert (code, body["code"]) == (403, "NOT_ENOUGH"), body
    assert sandbox.effects(out_no) == []


def test_v3_per_user_limit_request_blocked(sandbox, keys, uid):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid, remaining=10, max_per_user=1)])
    wp = m.client()
    assert m.send(wp, sid, "oFidelityV3_6", f"FIDV3{uid():015d}")[0] == 200
    out_no = f"FIDV3{uid():015d}"
    code, body = m.send(wp, sid, "oFidelityV3_6", out_no)
    assert (code, body["code"]) == (403, "REQUEST_BLOCKED"), body
    assert sandbox.effects(out_no) == []


def test_v3_unknown_stock_resource_not_exists(sandbox, keys, uid):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid)])
    code, body = m.send(m.client(), str(8_000_000 + uid()), "oFidelityV3_7", f"FIDV3{uid():015d}")
    assert (code, body["code"]) == (404, "RESOURCE_NOT_EXISTS"), body


def test_v3_bad_signature_sign_error(sandbox, keys, uid, other_key):
    sid = str(9_000_000 + uid())
    m = V3(sandbox, keys, uid, [stock(sid)])
    out_no = f"FIDV3{uid():015d}"
    wp = m.client(private_key=other_key[1])
    code, body = m.send(wp, sid, "oFidelityV3_8", out_no)
    assert (code, body["code"]) == (401, "SIGN_ERROR"), body
    assert sandbox.effects(out_no) == []


# --------------------------------------------------------------------------- Alipay (python-alipay-sdk)

VOUCHER_SEND = "alipay.marketing.voucher.send"


class Ali:
    """A fresh Alipay app with its voucher activities, and python-alipay-sdk clients for it."""

    def __init__(self, sandbox, keys, uid, activities, alipay_private=None):
        self.sandbox, self.keys, self.uid = sandbox, keys, uid
        self.app_id = f"2021{uid():012d}"
        sandbox.put(f"/sandbox/v1/accounts/alipay/{self.app_id}", {
            "appPublicKeyPem": keys.merchant_public,
            "alipayPrivateKeyPem": alipay_private or keys.platform_private,
            "activities": activities,
        })

    def client(self, private_key=None):
        ap = AliPay(appid=self.app_id, app_notify_url=None,
                    app_private_key_string=private_key or self.keys.merchant_private,
                    alipay_public_key_string=self.keys.platform_public, sign_type="RSA2",
                    config=AliPayConfig(timeout=TIMEOUT))
        ap._gateway = self.sandbox.http + "/gateway.do"
        real = ap._verify
        ap.verifications = []

        def spy(raw_content, signature):
            ok = real(raw_content, signature)
            ap.verifications.append(ok)
            return ok

        ap._verify = spy
        return ap

    def send(self, ap, template_id, user_id, out_biz_no):
        return ap.server_api(VOUCHER_SEND, biz_content={"template_id": template_id, "user_id": user_id,
                                                         "out_biz_no": out_biz_no})

    def user(self):
        return f"2088{self.uid():012d}"


def activity(activity_id, remaining=10, max_per_user=None, amount=3):
    a = {"activityId": activity_id, "amount": amount, "remaining": remaining}
    if max_per_user is not None:
        a["maxPerUser"] = max_per_user
    return a


def alipay_code(excinfo):
    return excinfo.value._AliPayException__code


def test_alipay_voucher_send_happy_path_signature_verified(sandbox, keys, uid):
    tid = f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(tid)])
    ap, user, out_no = a.client(), a.user(), f"FIDALI{uid():014d}"
    res = a.send(ap, tid, user, out_no)
    assert res["code"] == "10000", res
    assert res["voucher_id"]
    assert ap.verifications == [True]  # the SDK checked the answer's sign over the node and it held
    effects = sandbox.effects(out_no)
    assert [(e["channel"], e["amountFen"], e["user"]) for e in effects] == [("ALIPAY_VOUCHER", 300, user)]


def test_alipay_answer_signed_with_another_key_is_rejected_by_sdk(sandbox, keys, uid, other_key):
    tid = f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(tid)], alipay_private=other_key[1])
    ap, out_no = a.client(), f"FIDALI{uid():014d}"
    with pytest.raises(AliPayValidationError):
        a.send(ap, tid, a.user(), out_no)
    assert ap.verifications == [False]


def test_alipay_same_out_biz_no_same_voucher(sandbox, keys, uid):
    tid = f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(tid)])
    ap, user, out_no = a.client(), a.user(), f"FIDALI{uid():014d}"
    r1 = a.send(ap, tid, user, out_no)
    r2 = a.send(ap, tid, user, out_no)
    assert (r1["code"], r2["code"]) == ("10000", "10000")
    assert r1["voucher_id"] and r2["voucher_id"] == r1["voucher_id"]
    assert len(sandbox.effects(out_no)) == 1


def test_alipay_budget_exhausted(sandbox, keys, uid):
    tid = f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(tid, remaining=1)])
    ap = a.client()
    assert a.send(ap, tid, a.user(), f"FIDALI{uid():014d}")["code"] == "10000"
    out_no = f"FIDALI{uid():014d}"
    res = a.send(ap, tid, a.user(), out_no)
    # As Alipay sends it: sub_code unknown-sub-code, the code in sub_msg (developer.aliyun.com/ask/285812).
    assert (res["code"], res.get("sub_code"), res.get("sub_msg")) == (
        "40004", "unknown-sub-code", "未知的错误码BUDGET_NOT_ENOUGH_ERROR"), res
    assert ap.verifications == [True, True]  # business failures are signed answers too
    assert sandbox.effects(out_no) == []


def test_alipay_per_user_limit(sandbox, keys, uid):
    tid = f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(tid, remaining=10, max_per_user=1)])
    ap, user = a.client(), a.user()
    assert a.send(ap, tid, user, f"FIDALI{uid():014d}")["code"] == "10000"
    out_no = f"FIDALI{uid():014d}"
    res = a.send(ap, tid, user, out_no)
    assert (res["code"], res.get("sub_code"), res.get("sub_msg")) == (
        "40004", "unknown-sub-code", "未知的错误码EXCEED_USER_TAKE_LIMIT"), res
    assert sandbox.effects(out_no) == []


def test_alipay_unknown_template(sandbox, keys, uid):
    a = Ali(sandbox, keys, uid, [activity(f"FIDTPL{uid():010d}")])
    res = a.send(a.client(), f"NOSUCHTPL{uid():010d}", a.user(), f"FIDALI{uid():014d}")
    assert (res["code"], res.get("sub_code"), res.get("sub_msg")) == (
        "40004", "unknown-sub-code", "未知的错误码TEMPLATE_NOT_EXIST"), res


def test_alipay_idempotency_is_template_and_out_biz_no(sandbox, keys, uid):
    """"相同template_id和out_biz_no认为是同一次业务": the same out_biz_no under two templates is two sends."""
    t1, t2 = f"FIDTPL{uid():010d}", f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(t1), activity(t2)])
    ap, user, out_no = a.client(), a.user(), f"FIDALI{uid():014d}"
    r1, r2 = a.send(ap, t1, user, out_no), a.send(ap, t2, user, out_no)
    assert (r1["code"], r2["code"]) == ("10000", "10000")
    assert r1["voucher_id"] != r2["voucher_id"]
    assert len(sandbox.effects(out_no)) == 2


def test_alipay_bad_signature_invalid_arguments(sandbox, keys, uid, other_key):
    tid = f"FIDTPL{uid():010d}"
    a = Ali(sandbox, keys, uid, [activity(tid)])
    out_no = f"FIDALI{uid():014d}"
    with pytest.raises(AliPayException) as ei:
        a.send(a.client(private_key=other_key[1]), tid, a.user(), out_no)
    assert alipay_code(ei) == "40002", str(ei.value)
    assert "isv.invalid-signature" in str(ei.value)
    assert sandbox.effects(out_no) == []
