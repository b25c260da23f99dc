"""The operator console in a real browser (issue 11): sign-in, the dashboard, finding an order by
bizCode, its timeline, a callback redelivery, a top-up, a stuck order's retry, a catalogue edit,
the CSV export, CSRF refusal and sign-out — on SQLite and on PostgreSQL, with screenshots."""
import hashlib
import json
import time
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

DEMO_BUSINESS, DEMO_MERCHANT, DEMO_MD5_KEY = "DEMO-B", "DEMO-M", "demo-md5-key-0123456789abcdef"


def find(drv, css):
    return drv.find_element(By.CSS_SELECTOR, css)


def text(drv, css):
    return find(drv, css).text


def click(drv, css=None, element=None):
    """Clicks (a submit button or a link) and waits until the next page has replaced this one:
    a form's submission is asynchronous to the click."""
    old = drv.find_element(By.TAG_NAME, "html")
    (element or find(drv, css)).click()

    def replaced(_):
        # Chromium answers a node of the page being replaced either as stale or, mid-way, with
        # "Node with given id does not belong to the document": both mean the old page is gone.
        try:
            old.tag_name
            return False
        except WebDriverException:
            return True

    WebDriverWait(drv, 15).until(replaced)


def wait_for(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def signed_order(demo, path, body):
    """An open-API order signed with the demo business's MD5 key (SPEC §3)."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    h = {"businessId": DEMO_BUSINESS, "nonce": uuid.uuid4().hex, "signType": "MD5",
         "timestamp": str(int(time.time() * 1000))}
    s = "&".join(f"{k}={h[k]}" for k in sorted(h)) + raw
    h["sign"] = hashlib.md5((s + DEMO_MD5_KEY).encode()).hexdigest().upper()
    h["Content-Type"] = "application/json; charset=utf-8"
    r = demo.http.post(demo.base + path, data=raw.encode(), headers=h, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == 200, r.text
    return r.json()["data"]["orderCode"]


def session_cookie(drv):
    c = drv.get_cookie("rg_session")
    assert c, "no session cookie after sign-in"
    return c


def test_sign_in(demo, browser, shot):
    drv = browser
    drv.get(demo.base + "/console")
    assert drv.current_url.endswith("/console/login"), "an anonymous visitor is sent to the login form"
    assert find(drv, "#token").get_attribute("type") == "password"
    find(drv, "#token").send_keys("not-the-token")
    click(drv, "form.login button")
    assert "Wrong token" in text(drv, "p.error")
    find(drv, "#token").send_keys(demo.token)
    click(drv, "form.login button")
    assert drv.current_url.rstrip("/").endswith("/console")
    c = session_cookie(drv)
    assert c["httpOnly"] and c.get("sameSite") == "Strict", c


def test_dashboard(demo, browser, shot):
    drv = browser
    drv.get(demo.base + "/console")
    day = int(text(drv, "#card-day .v"))
    assert day >= 5, "the demo's orders are counted"
    assert "%" in text(drv, "#card-rate .v")
    assert find(drv, "svg#per-minute")
    assert len(drv.find_elements(By.CSS_SELECTOR, "svg#per-minute rect")) == 60
    statuses = text(drv, "#by-status")
    assert "SUCCESS" in statuses and "PROCESSING" in statuses
    assert "demo-wx2" in text(drv, "#by-channel")
    assert find(drv, "#callbacks")
    shot(drv, "dashboard")
    # The other language, then back.
    click(drv, element=drv.find_element(By.LINK_TEXT, "中文"))
    assert "概览" in drv.title and "近 24 小时订单" in text(drv, "#card-day")
    shot(drv, "dashboard-zh")
    click(drv, element=drv.find_element(By.LINK_TEXT, "English"))
    assert "Dashboard" in drv.title


def test_find_order_and_redeliver(demo, browser, shot):
    drv = browser
    drv.get(demo.base + "/console/orders")
    assert len(drv.find_elements(By.CSS_SELECTOR, "#orders tr")) >= 6
    shot(drv, "orders")
    find(drv, "#q").send_keys("demo-rp-1")
    click(drv, "#search")
    assert text(drv, "#biz-code") == "demo-rp-1", "a bizCode search lands on the order"
    assert text(drv, "#upstream-key") != "—"
    timeline = text(drv, "#timeline")
    assert "upstream SEND" in timeline and "ledger" in timeline
    assert "HTTP 200" in text(drv, "#callbacks")
    shot(drv, "order")
    before = len(demo.admin("GET", f"/orders/{text(drv, '#order-code')}/notifications")["data"]["items"][0]["attemptLog"])
    click(drv, element=drv.find_elements(By.CSS_SELECTOR, "button.redeliver")[0])
    assert "sent again" in text(drv, "p.ok")
    code = text(drv, "#order-code")
    wait_for("the redelivered callback", lambda: len(
        demo.admin("GET", f"/orders/{code}/notifications")["data"]["items"][0]["attemptLog"]) > before)


def test_top_up(demo, browser, shot):
    drv = browser
    drv.get(demo.base + "/console/businesses")
    click(drv, element=drv.find_element(By.LINK_TEXT, DEMO_BUSINESS))
    before = demo.admin("GET", f"/businesses/{DEMO_BUSINESS}/balance")["data"]["amount"]
    assert "*" in text(drv, "#md5-key") and DEMO_MD5_KEY not in drv.page_source, "keys are masked"
    find(drv, "#topup-amount").send_keys("12.34")
    click(drv, "#topup-submit")
    assert "Top-up applied" in text(drv, "p.ok")
    after = demo.admin("GET", f"/businesses/{DEMO_BUSINESS}/balance")["data"]["amount"]
    assert round(after - before, 2) == 12.34
    shot(drv, "business")
    # A bad amount is refused by the admin API's parser, naming the field; nothing changes.
    find(drv, "#topup-amount").send_keys("12.345")
    click(drv, "#topup-submit")
    assert "amount" in text(drv, "p.error")
    assert demo.admin("GET", f"/businesses/{DEMO_BUSINESS}/balance")["data"]["amount"] == after


def test_retry_a_stuck_order(demo, browser, shot):
    drv = browser
    # Every transfer answers SYSTEMERROR (it may or may not have been paid) and so does every
    # query: no definite answer, so after the demo's 3 s give-up the order is STUCK.
    faults = requests.put(demo.sandbox + "/sandbox/v1/faults", json={"systemError": 1.0, "queryError": "SYSTEMERROR"},
                          timeout=5)
    assert faults.status_code == 200, faults.text
    biz = f"browser-stuck-{uuid.uuid4().hex[:8]}"
    code = signed_order(demo, "/v1/openapi/order/wechat/transfer",
                        {"merchantId": DEMO_MERCHANT, "businessId": DEMO_BUSINESS, "productCode": "DEMO-TR",
                         "openId": "oDemoUserStuck", "spec": 0.5, "bizCode": biz})
    wait_for("the order to go STUCK", lambda: demo.admin("GET", f"/orders/{code}")["data"]["jobState"] == "STUCK",
             timeout=60)
    requests.put(demo.sandbox + "/sandbox/v1/faults", json={"systemError": 0.0, "queryError": None}, timeout=5)
    drv.get(demo.base + "/console/orders?status=STUCK")
    click(drv, element=drv.find_element(By.LINK_TEXT, code))
    assert "STUCK" in text(drv, "#job-state")
    shot(drv, "order-stuck")
    click(drv, "#retry")
    assert "re-armed" in text(drv, "p.ok")
    wait_for("the retried order to succeed",
             lambda: demo.admin("GET", f"/orders/{code}")["data"]["status"] == "SUCCESS", timeout=60)
    drv.refresh()
    assert "SUCCESS" in text(drv, "#status")
    # Paid once, with the one key.
    effects = requests.get(demo.sandbox + "/sandbox/v1/effects", timeout=5).json()
    key = demo.admin("GET", f"/orders/{code}")["data"]["upstreamKey"]
    assert len([e for e in effects if e["key"] == key]) == 1


def test_catalogue_edit(demo, browser, shot):
    drv = browser
    drv.get(demo.base + f"/console/catalog/merchant/{DEMO_MERCHANT}")
    box = find(drv, "#json")
    box.clear()
    box.send_keys('{"name": "演示商户（改名）"}')
    click(drv, "#save")
    assert "Saved" in text(drv, "p.ok")
    assert demo.admin("GET", f"/merchants/{DEMO_MERCHANT}")["data"]["name"] == "演示商户（改名）"
    # The admin API's validation, through the same parser: the field is named, nothing stored.
    drv.get(demo.base + f"/console/catalog/merchant/{DEMO_MERCHANT}")
    box = find(drv, "#json")
    box.clear()
    box.send_keys('{"nome": "x"}')
    click(drv, "#save")
    assert "name" in text(drv, "p.error")
    assert demo.admin("GET", f"/merchants/{DEMO_MERCHANT}")["data"]["name"] == "演示商户（改名）"
    # Editing a business keeps its secrets when the form leaves them out.
    drv.get(demo.base + f"/console/catalog/business/{DEMO_BUSINESS}")
    assert DEMO_MD5_KEY not in drv.page_source and "md5Key" not in find(drv, "#json").get_attribute("value")
    click(drv, "#save")
    assert "Saved" in text(drv, "p.ok")
    shot(drv, "catalogue")


def test_export_csrf_and_sign_out(demo, browser, shot):
    drv = browser
    jar = {"rg_session": session_cookie(drv)["value"]}
    s = requests.Session()
    s.trust_env = False
    r = s.get(demo.base + "/console/orders.csv?q=demo-rp-1", cookies=jar, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("orderCode,bizCode,") and len(lines) == 2 and ",demo-rp-1," in lines[1]
    everything = s.get(demo.base + "/console/orders.csv", cookies=jar, timeout=10).text.strip().splitlines()
    assert len(everything) >= 7
    # A form without the session's CSRF token changes nothing.
    before = demo.admin("GET", f"/businesses/{DEMO_BUSINESS}/balance")["data"]["amount"]
    r = s.post(demo.base + f"/console/businesses/{DEMO_BUSINESS}/topup", cookies=jar,
               data={"amount": "1", "reference": "csrf-probe"}, allow_redirects=False, timeout=10)
    assert r.status_code == 403
    assert demo.admin("GET", f"/businesses/{DEMO_BUSINESS}/balance")["data"]["amount"] == before
    click(drv, "#logout")
    assert drv.current_url.endswith("/console/login")
    drv.get(demo.base + "/console/orders")
    assert drv.current_url.endswith("/console/login"), "the session ended with sign-out"
    r = s.get(demo.base + "/console", cookies=jar, allow_redirects=False, timeout=10)
    assert r.status_code in (303, 307) and r.headers["location"] == "/console/login"
