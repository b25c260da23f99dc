//! WeChat Pay API v2 stand-in: red packets (`sendredpack`, `sendminiprogramhb`, `gethbinfo`) and
//! transfers to the wallet (`promotion/transfers`, `gettransferinfo`), with the real answer shape
//! (`return_code` / `result_code` / `err_code` / `err_code_des`) and the real rules.

mod redpack;
mod transfer;

pub use redpack::{gethbinfo, sendminiprogramhb, sendredpack};
pub use transfer::{gettransferinfo, transfers};

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

/// `return_code=FAIL` without `err_code`: the message never reached the business logic.
fn return_fail(msg: &str) -> Response {
    let mut p = Params::new();
    p.insert("return_code".into(), "FAIL".into());
    p.insert("return_msg".into(), msg.into());
    xml_response(xml::write(&p))
}

/// How this account's answers are written. Real red-packet and transfer answers carry no `sign`
/// (WxJava issue #140 quotes one; chanxuehong/wechat PR #220); `signAnswers` adds one (MD5),
/// as the old documents' field tables claim, to exercise a client's check of a present sign.
/// Business failures come as `return_code=SUCCESS` + `result_code=FAIL` + `err_code` (WxJava
/// #1034 SIGN_ERROR; MONEY_LIMIT pastes), except those known to come behind `return_code=FAIL`:
/// SYSTEMERROR (seed 002's failure example; the transfers and gethbinfo doc samples) and a red
/// packet's NOTENOUGH (a real answer pasted in public code). `v2ReturnCodeFail` puts every
/// business failure in seed 002's shape.
#[derive(Clone)]
struct Reply {
    key: Option<String>,
    all_fail_shape: bool,
}

impl Reply {
    fn answer(&self, mut p: Params) -> Response {
        p.entry("return_code".into())
            .or_insert_with(|| "SUCCESS".into());
        p.entry("return_msg".into()).or_insert_with(|| "OK".into());
        if let Some(k) = &self.key {
            let s = v2::sign(&p, k, SignType::Md5);
            p.insert("sign".into(), s);
        }
        xml_response(xml::write(&p))
    }

    fn fail_with(&self, mut base: Params, code: &str, des: &str, fail_shape: bool) -> Response {
        base.insert("result_code".into(), "FAIL".into());
        base.insert("err_code".into(), code.into());
        base.insert("err_code_des".into(), des.into());
        base.insert("return_msg".into(), des.into());
        if fail_shape || self.all_fail_shape {
            base.insert("return_code".into(), "FAIL".into());
        }
        self.answer(base)
    }

    fn fail(&self, base: Params, code: &str, des: &str) -> Response {
        self.fail_with(base, code, des, code == "SYSTEMERROR")
    }
}

/// The checks every v2 call shares: XML, merchant, client certificate, signature.
/// `mch_field` is `mch_id` for red packets and queries, `mchid` for transfers.
#[allow(clippy::result_large_err)] // the refusal is the answer itself, sent as it is
fn authenticate(
    st: &World,
    body: &str,
    mch_field: &str,
    peer: Option<&PeerCert>,
) -> Result<(Params, Reply), Response> {
    let p = xml::parse(body).map_err(|_| return_fail("XML格式错误"))?;
    let mch = p.get(mch_field).cloned().unwrap_or_default();
    let Some(acct) = st.v2.get(&mch) else {
        return Err(return_fail("mch_id参数错误或商户号不存在"));
    };
    let reply = Reply {
        key: acct.sign_answers.then(|| acct.api_key.clone()),
        all_fail_shape: st.faults.v2_return_code_fail,
    };
    // The certificate is checked first, as the real host's TLS front does.
    if let Some(want) = &acct.cert_der {
        let ok = peer
            .and_then(|c| c.0.as_ref())
            .is_some_and(|got| got == want);
        if !ok {
            return Err(reply.fail(
                Params::new(),
                "CA_ERROR",
                "请求未携带证书或证书与商户号不匹配",
            ));
        }
    }
    // MD5 only, and `sign_type` is not one of these calls' parameters: a request that signs it
    // (or signs with HMAC-SHA256) fails (WxJava issues #570, #726; weixin-popular #125).
    let mut signed = p.clone();
    signed.remove("sign_type");
    if !v2::verify(&signed, &acct.api_key, SignType::Md5) {
        return Err(reply.fail(Params::new(), "SIGN_ERROR", "签名错误"));
    }
    Ok((p, reply))
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
    rewardgate_core::clock::shanghai_datetime(ms)
}

fn shanghai_hour(ms: i64) -> u8 {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(SHANGHAI)
        .hour()
}

/// A field's width in UTF-8 bytes, as WeChat counts it (JeffreySu/WeiXinMPSDK PR #947).
fn too_long(p: &Params, widths: &[(&str, usize, &str)]) -> Option<String> {
    widths
        .iter()
        .find(|(f, n, _)| p.get(*f).is_some_and(|v| v.len() > *n))
        .map(|(_, _, msg)| msg.to_string())
}

/// The answer of a send that went through the faults: SYSTEMERROR (in either case), a success,
/// or — for a timeout — either of them held back (`late` seconds).
fn finish(
    r: &Reply,
    mut ok: Params,
    base: Params,
    system_error: bool,
    late: Option<u64>,
    grants: bool,
) -> Answer {
    if system_error {
        return Answer::Now(r.fail(base, "SYSTEMERROR", "系统繁忙,请稍后再试."));
    }
    ok.insert("result_code".into(), "SUCCESS".into());
    match late {
        Some(secs) => {
            let a = if grants {
                r.answer(ok)
            } else {
                r.fail(base, "SYSTEMERROR", "系统繁忙,请稍后再试.")
            };
            Answer::Late(a, secs)
        }
        None => Answer::Now(r.answer(ok)),
    }
}
