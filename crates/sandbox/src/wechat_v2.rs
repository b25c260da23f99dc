//! WeChat Pay API v2 stand-in: red packets (`sendredpack`, `sendminiprogramhb`, `gethbinfo`) and
//! transfers to the wallet (`promotion/transfers`, `gettransferinfo`), with the real answer shape
//! (`return_code` / `result_code` / `err_code` / `err_code_des`) and the real rules.

use crate::Shared;
use crate::state::*;
use crate::tls::PeerCert;
use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rewardgate_channels::wechat_v2::{self as v2, Params, SignType, xml};
use rewardgate_core::clock::{SHANGHAI, shanghai_ymd};
use std::time::Duration;

/// What a handler decided: an answer now, or one held back by an injected timeout.
enum Answer {
    Now(Response),
    Late(Response, u64),
}

async fn deliver(a: Answer) -> Response {
    match a {
        Answer::Now(r) => r,
        Answer::Late(r, secs) => {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            r
        }
    }
}

fn xml_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `return_code=FAIL`: the message never reached the business logic.
fn return_fail(msg: &str) -> Response {
    let mut p = Params::new();
    p.insert("return_code".into(), "FAIL".into());
    p.insert("return_msg".into(), msg.into());
    xml_response(xml::write(&p))
}

/// A business answer, signed with the account's key when `key` is given.
fn answer(mut p: Params, key: Option<(&str, SignType)>) -> Response {
    p.insert("return_code".into(), "SUCCESS".into());
    p.entry("return_msg".into()).or_insert_with(|| "OK".into());
    if let Some((k, t)) = key {
        let s = v2::sign(&p, k, t);
        p.insert("sign".into(), s);
    }
    xml_response(xml::write(&p))
}

fn fail(mut base: Params, code: &str, des: &str, key: Option<(&str, SignType)>) -> Response {
    base.insert("result_code".into(), "FAIL".into());
    base.insert("err_code".into(), code.into());
    base.insert("err_code_des".into(), des.into());
    base.insert("return_msg".into(), des.into());
    answer(base, key)
}

/// The checks every v2 call shares: XML, merchant, signature, client certificate.
/// `mch_field` is `mch_id` for red packets and queries, `mchid` for transfers.
#[allow(clippy::result_large_err)] // the refusal is the answer itself, sent as it is
fn authenticate(
    st: &World,
    body: &str,
    mch_field: &str,
    peer: Option<&PeerCert>,
) -> Result<(Params, String, SignType), Response> {
    let p = xml::parse(body).map_err(|_| return_fail("XML格式错误"))?;
    let mch = p.get(mch_field).cloned().unwrap_or_default();
    let Some(acct) = st.v2.get(&mch) else {
        return Err(return_fail("mch_id参数错误或商户号不存在"));
    };
    let Some(t) = SignType::parse(p.get("sign_type").map(String::as_str)) else {
        return Err(fail(
            Params::new(),
            "PARAM_ERROR",
            "sign_type参数错误",
            None,
        ));
    };
    // The certificate is checked first, as the real host's TLS front does.
    if let Some(want) = &acct.cert_der {
        let ok = peer
            .and_then(|c| c.0.as_ref())
            .is_some_and(|got| got == want);
        if !ok {
            return Err(fail(
                Params::new(),
                "CA_ERROR",
                "请求未携带证书或证书与商户号不匹配",
                None,
            ));
        }
    }
    if !v2::verify(&p, &acct.api_key, t) {
        return Err(fail(Params::new(), "SIGN_ERROR", "签名错误", None));
    }
    Ok((p, acct.api_key.clone(), t))
}

fn required(p: &Params, fields: &[&str]) -> Result<(), String> {
    for f in fields {
        if p.get(*f).is_none_or(|v| v.is_empty()) {
            return Err(format!("{f}字段必填"));
        }
    }
    Ok(())
}

fn openid_ok(o: &str) -> bool {
    o.starts_with('o')
        && o.len() >= 3
        && o.len() <= 128
        && o.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn wx_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(SHANGHAI);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn shanghai_hour(ms: i64) -> u8 {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(SHANGHAI)
        .hour()
}

/// Red packets a merchant may send a minute, and a user may receive a day.
pub const PER_MINUTE: usize = 1800;
pub const PER_USER_DAY: i64 = 10;

pub async fn sendredpack(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    deliver(s.with(|st| send(st, &body, peer.as_deref(), false))).await
}

pub async fn sendminiprogramhb(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    deliver(s.with(|st| send(st, &body, peer.as_deref(), true))).await
}

fn send(st: &mut World, body: &str, peer: Option<&PeerCert>, mini: bool) -> Answer {
    let (p, key, t) = match authenticate(st, body, "mch_id", peer) {
        Ok(x) => x,
        Err(r) => return Answer::Now(r),
    };
    let k = Some((key.as_str(), t));
    let g = |f: &str| p.get(f).cloned().unwrap_or_default();
    let (mch, billno, appid, openid) = (g("mch_id"), g("mch_billno"), g("wxappid"), g("re_openid"));
    let mut base = Params::new();
    for f in [
        "mch_billno",
        "mch_id",
        "wxappid",
        "re_openid",
        "total_amount",
    ] {
        base.insert(f.into(), g(f));
    }
    let mut need = vec![
        "nonce_str",
        "mch_billno",
        "mch_id",
        "wxappid",
        "send_name",
        "re_openid",
        "total_amount",
        "total_num",
        "wishing",
        "act_name",
        "remark",
    ];
    if mini {
        need.push("notify_way");
    } else {
        need.push("client_ip");
    }
    if let Err(e) = required(&p, &need) {
        return Answer::Now(fail(base, "PARAM_ERROR", &e, k));
    }
    if mini && g("notify_way") != "MINI_PROGRAM_JSAPI" {
        return Answer::Now(fail(base, "PARAM_ERROR", "notify_way参数错误", k));
    }
    let acct = st.v2.get(&mch).expect("authenticated");
    if !acct.app_ids.is_empty() && !acct.app_ids.contains(&appid) {
        return Answer::Now(fail(base, "PARAM_ERROR", "wxappid与商户号不匹配", k));
    }
    let fmt_ok = billno.len() == mch.len() + 18
        && billno.starts_with(&mch)
        && billno.bytes().all(|b| b.is_ascii_digit());
    if !fmt_ok {
        return Answer::Now(fail(
            base,
            "PARAM_ERROR",
            "mch_billno格式错误：应为mch_id+yyyymmdd+10位数字",
            k,
        ));
    }
    let Ok(amount) = g("total_amount").parse::<i64>() else {
        return Answer::Now(fail(base, "PARAM_ERROR", "total_amount参数错误", k));
    };
    if g("total_num") != "1" {
        return Answer::Now(fail(base, "PARAM_ERROR", "total_num必须为1", k));
    }
    if !openid_ok(&openid) {
        return Answer::Now(fail(base, "OPENID_ERROR", "Openid错误", k));
    }
    let fingerprint = format!("{mini}|{appid}|{openid}|{amount}|{}", g("act_name"));
    st.settle_refunds();
    if let Some(r) = st.redpacks.get(&billno) {
        if r.fingerprint != fingerprint {
            return Answer::Now(fail(
                base,
                "FATAL_ERROR",
                "更换了openid、金额等参数，请使用原参数重试",
                k,
            ));
        }
        let mut ok = base.clone();
        ok.insert("result_code".into(), "SUCCESS".into());
        ok.insert("err_code".into(), "SUCCESS".into());
        ok.insert("err_code_des".into(), "发放成功".into());
        ok.insert("send_listid".into(), r.send_listid.clone());
        if let Some(pk) = &r.package {
            ok.insert("package".into(), pk.clone());
        }
        return Answer::Now(answer(ok, k));
    }
    let max = if p.get("scene_id").is_some_and(|v| !v.is_empty()) {
        499_900
    } else {
        20_000
    };
    if !(100..=max).contains(&amount) {
        return Answer::Now(fail(
            base,
            "MONEY_LIMIT",
            "每个红包的平均金额必须在1.00元到200.00元之间",
            k,
        ));
    }
    if openid.starts_with("oRISK") {
        return Answer::Now(fail(
            base,
            "NO_AUTH",
            "发放失败，此请求可能存在风险，已被微信拦截",
            k,
        ));
    }
    let now = st.now();
    if st.faults.enforce_time_limit && shanghai_hour(now) < 8 {
        return Answer::Now(fail(
            base,
            "TIME_LIMITED",
            "企业红包的发送时间受限，请北京时间0:00-8:00以外发送",
            k,
        ));
    }
    let faults = st.faults.clone();
    if roll() < faults.not_enough {
        return Answer::Now(fail(
            base,
            "NOTENOUGH",
            "帐号余额不足，请到商户平台充值后再重试",
            k,
        ));
    }
    let acct = st.v2.get_mut(&mch).expect("authenticated");
    while acct
        .recent_sends
        .front()
        .is_some_and(|t| *t <= now - 60_000)
    {
        acct.recent_sends.pop_front();
    }
    if acct.recent_sends.len() >= PER_MINUTE {
        st.refused("SECOND_OVER_LIMITED");
        return Answer::Now(fail(
            base,
            "SECOND_OVER_LIMITED",
            "企业红包的按分钟发放受限，每分钟发送红包数量不得超过1800个",
            k,
        ));
    }
    let day_key = (mch.clone(), openid.clone(), shanghai_ymd(now));
    if st.daily.get(&day_key).copied().unwrap_or(0) >= PER_USER_DAY {
        return Answer::Now(fail(
            base,
            "SENDNUM_LIMIT",
            "该用户今日领取红包个数超过限制",
            k,
        ));
    }
    let acct = st.v2.get_mut(&mch).expect("authenticated");
    if acct.balance_fen < amount {
        return Answer::Now(fail(
            base,
            "NOTENOUGH",
            "帐号余额不足，请到商户平台充值后再重试",
            k,
        ));
    }
    // An injected SYSTEMERROR or timeout may or may not have granted, as upstream.
    let system_error = roll() < faults.system_error;
    let timeout = !system_error && roll() < faults.timeout;
    let grants = !(system_error || timeout) || roll() < 0.5;
    if grants {
        acct.balance_fen -= amount;
        acct.recent_sends.push_back(now);
        *st.daily.entry(day_key).or_insert(0) += 1;
        let listid = st.next_id("1000041701");
        let package = mini.then(|| {
            format!(
                "sendid={listid}&ver=8&sign={}&mchid={mch}&appid={appid}",
                rewardgate_channels::nonce(32)
            )
        });
        st.redpacks.insert(
            billno.clone(),
            Redpack {
                mch_id: mch.clone(),
                fingerprint,
                openid: openid.clone(),
                amount,
                send_listid: listid.clone(),
                sent_at: now,
                status: RedpackStatus::Sent,
                rcv_time: None,
                refund_time: None,
                package: package.clone(),
            },
        );
        st.record(
            if mini {
                "WECHAT_MINIPROGRAM_REDPACK"
            } else {
                "WECHAT_REDPACK"
            },
            &billno,
            amount,
            &openid,
        );
        base.insert("send_listid".into(), listid);
        if let Some(pk) = package {
            base.insert("package".into(), pk);
        }
    }
    if system_error {
        return Answer::Now(fail(base, "SYSTEMERROR", "系统繁忙，请再试", k));
    }
    let mut ok = base;
    ok.insert("result_code".into(), "SUCCESS".into());
    ok.insert("err_code".into(), "SUCCESS".into());
    ok.insert("err_code_des".into(), "发放成功".into());
    if timeout {
        let late = if grants {
            answer(ok, k)
        } else {
            fail(Params::new(), "SYSTEMERROR", "系统繁忙，请再试", k)
        };
        return Answer::Late(late, faults.timeout_seconds);
    }
    Answer::Now(answer(ok, k))
}

pub async fn gethbinfo(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    s.with(|st| {
        let (p, key, t) = match authenticate(st, &body, "mch_id", peer.as_deref()) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let k = Some((key.as_str(), t));
        let g = |f: &str| p.get(f).cloned().unwrap_or_default();
        if let Err(e) = required(&p, &["nonce_str", "mch_billno", "mch_id", "appid", "bill_type"]) {
            return fail(Params::new(), "PARAM_ERROR", &e, k);
        }
        st.settle_refunds();
        let billno = g("mch_billno");
        let Some(r) = st.redpacks.get(&billno).filter(|r| r.mch_id == g("mch_id")) else {
            return fail(Params::new(), "NOT_FOUND", "指定单号数据不存在", k);
        };
        let mut a = Params::new();
        a.insert("result_code".into(), "SUCCESS".into());
        a.insert("err_code".into(), "SUCCESS".into());
        a.insert("err_code_des".into(), "OK".into());
        a.insert("mch_billno".into(), billno.clone());
        a.insert("mch_id".into(), r.mch_id.clone());
        a.insert("detail_id".into(), r.send_listid.clone());
        let status = match r.status {
            RedpackStatus::Sent => "SENT",
            RedpackStatus::Received => "RECEIVED",
            RedpackStatus::Refund => "REFUND",
        };
        a.insert("status".into(), status.into());
        a.insert("send_type".into(), "API".into());
        a.insert("hb_type".into(), "NORMAL".into());
        a.insert("total_num".into(), "1".into());
        a.insert("total_amount".into(), r.amount.to_string());
        a.insert("send_time".into(), wx_time(r.sent_at));
        if let Some(rt) = r.refund_time {
            a.insert("refund_time".into(), wx_time(rt));
            a.insert("refund_amount".into(), r.amount.to_string());
        }
        let hblist = match r.rcv_time {
            Some(rcv) => format!(
                "<hblist><hbinfo><openid><![CDATA[{}]]></openid><amount>{}</amount><rcv_time><![CDATA[{}]]></rcv_time></hbinfo></hblist>",
                r.openid,
                r.amount,
                wx_time(rcv)
            ),
            None => String::new(),
        };
        a.insert("return_code".into(), "SUCCESS".into());
        a.insert("return_msg".into(), "OK".into());
        let sig = v2::sign(&a, &key, t);
        a.insert("sign".into(), sig);
        xml_response(xml::write_with(&a, &hblist))
    })
}

pub async fn transfers(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    deliver(s.with(|st| transfer(st, &body, peer.as_deref()))).await
}

/// The smallest transfer, in fen.
pub const MIN_TRANSFER: i64 = 30;

fn transfer(st: &mut World, body: &str, peer: Option<&PeerCert>) -> Answer {
    // Transfers' answers carry no signature upstream either.
    let (p, _key, _t) = match authenticate(st, body, "mchid", peer) {
        Ok(x) => x,
        Err(r) => return Answer::Now(r),
    };
    let g = |f: &str| p.get(f).cloned().unwrap_or_default();
    let (mch, appid, trade_no, openid) = (
        g("mchid"),
        g("mch_appid"),
        g("partner_trade_no"),
        g("openid"),
    );
    let mut base = Params::new();
    base.insert("mch_appid".into(), appid.clone());
    base.insert("mchid".into(), mch.clone());
    base.insert("nonce_str".into(), rewardgate_channels::nonce(32));
    base.insert("partner_trade_no".into(), trade_no.clone());
    if let Err(e) = required(
        &p,
        &[
            "mch_appid",
            "mchid",
            "nonce_str",
            "partner_trade_no",
            "openid",
            "check_name",
            "amount",
            "desc",
        ],
    ) {
        return Answer::Now(fail(base, "PARAM_ERROR", &e, None));
    }
    let acct = st.v2.get(&mch).expect("authenticated");
    if !acct.app_ids.is_empty() && !acct.app_ids.contains(&appid) {
        return Answer::Now(fail(base, "PARAM_ERROR", "mch_appid与商户号不匹配", None));
    }
    if trade_no.len() > 32 || !trade_no.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Answer::Now(fail(base, "PARAM_ERROR", "partner_trade_no格式错误", None));
    }
    let check = g("check_name");
    if check != "NO_CHECK" && check != "FORCE_CHECK" {
        return Answer::Now(fail(base, "PARAM_ERROR", "check_name参数错误", None));
    }
    let Ok(amount) = g("amount").parse::<i64>() else {
        return Answer::Now(fail(base, "PARAM_ERROR", "amount参数错误", None));
    };
    if !openid_ok(&openid) {
        return Answer::Now(fail(
            base,
            "OPENID_ERROR",
            "Openid格式错误或者不属于商家公众账号",
            None,
        ));
    }
    let fingerprint = format!("{appid}|{openid}|{amount}|{check}");
    let tk = (mch.clone(), trade_no.clone());
    if let Some(t) = st.transfers.get(&tk) {
        if t.fingerprint != fingerprint {
            return Answer::Now(fail(
                base,
                "PARAM_ERROR",
                "商户订单号重复，请使用原参数重试",
                None,
            ));
        }
        let mut ok = base;
        ok.insert("result_code".into(), "SUCCESS".into());
        ok.insert("payment_no".into(), t.payment_no.clone());
        ok.insert("payment_time".into(), wx_time(t.payment_time));
        return Answer::Now(answer(ok, None));
    }
    if amount < MIN_TRANSFER {
        return Answer::Now(fail(base, "AMOUNT_LIMIT", "付款金额不能小于最低限额", None));
    }
    let faults = st.faults.clone();
    if roll() < faults.not_enough {
        return Answer::Now(fail(base, "NOTENOUGH", "余额不足", None));
    }
    let now = st.now();
    let acct = st.v2.get_mut(&mch).expect("authenticated");
    if acct.balance_fen < amount {
        return Answer::Now(fail(base, "NOTENOUGH", "余额不足", None));
    }
    let system_error = roll() < faults.system_error;
    let timeout = !system_error && roll() < faults.timeout;
    let grants = !(system_error || timeout) || roll() < 0.5;
    let mut ok = base.clone();
    if grants {
        acct.balance_fen -= amount;
        let payment_no = st.next_id("1000018301");
        st.transfers.insert(
            tk,
            Transfer {
                fingerprint,
                openid: openid.clone(),
                amount,
                payment_no: payment_no.clone(),
                payment_time: now,
                app_id: appid,
                desc: g("desc"),
            },
        );
        st.record("WECHAT_TRANSFER", &trade_no, amount, &openid);
        ok.insert("payment_no".into(), payment_no);
        ok.insert("payment_time".into(), wx_time(now));
    }
    if system_error {
        return Answer::Now(fail(base, "SYSTEMERROR", "系统繁忙，请稍后再试", None));
    }
    ok.insert("result_code".into(), "SUCCESS".into());
    if timeout {
        let late = if grants {
            answer(ok, None)
        } else {
            fail(base, "SYSTEMERROR", "系统繁忙，请稍后再试", None)
        };
        return Answer::Late(late, faults.timeout_seconds);
    }
    Answer::Now(answer(ok, None))
}

pub async fn gettransferinfo(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    s.with(|st| {
        let (p, key, t) = match authenticate(st, &body, "mch_id", peer.as_deref()) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let k = Some((key.as_str(), t));
        let g = |f: &str| p.get(f).cloned().unwrap_or_default();
        if let Err(e) = required(&p, &["nonce_str", "partner_trade_no", "mch_id", "appid"]) {
            return fail(Params::new(), "PARAM_ERROR", &e, k);
        }
        let Some(tr) = st.transfers.get(&(g("mch_id"), g("partner_trade_no"))) else {
            return fail(Params::new(), "NOT_FOUND", "指定单号数据不存在", k);
        };
        let mut a = Params::new();
        a.insert("result_code".into(), "SUCCESS".into());
        a.insert("err_code".into(), "SUCCESS".into());
        a.insert("err_code_des".into(), "OK".into());
        a.insert("partner_trade_no".into(), g("partner_trade_no"));
        a.insert("appid".into(), tr.app_id.clone());
        a.insert("mch_id".into(), g("mch_id"));
        a.insert("detail_id".into(), tr.payment_no.clone());
        a.insert("status".into(), "SUCCESS".into());
        a.insert("openid".into(), tr.openid.clone());
        a.insert("payment_amount".into(), tr.amount.to_string());
        a.insert("transfer_time".into(), wx_time(tr.payment_time));
        a.insert("payment_time".into(), wx_time(tr.payment_time));
        a.insert("desc".into(), tr.desc.clone());
        answer(a, k)
    })
}
