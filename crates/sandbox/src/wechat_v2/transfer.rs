//! Transfers to the wallet: `promotion/transfers` and the `gettransferinfo` query.

use super::*;

pub async fn transfers(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    deliver(s.with(|st| transfer(st, &body, peer.as_deref()))).await
}

/// The smallest and the largest transfer, in fen: 0.30 yuan (cnblogs imzhi/p/17292390 "支持
/// 0.3~200元"; developers.weixin.qq.com 000c2e8e97cc501217f93044356400) and 500 yuan a payment
/// (the per-payment cap this project's operators have; WeChat documents it as a merchant setting).
pub const MIN_TRANSFER: i64 = 30;
pub const MAX_TRANSFER: i64 = 50_000;

fn transfer(st: &mut World, body: &str, peer: Option<&PeerCert>) -> Answer {
    let (p, r) = match authenticate(st, body, "mchid", peer) {
        Ok(x) => x,
        Err(resp) => return Answer::Now(resp),
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
    let now_fail = |code: &str, des: &str| Answer::Now(r.fail(base.clone(), code, des));
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
        return now_fail("PARAM_ERROR", &e);
    }
    let acct = st.v2.get(&mch).expect("authenticated");
    if !acct.app_ids.is_empty() && !acct.app_ids.contains(&appid) {
        return now_fail("PARAM_ERROR", "mch_appid与商户号不匹配");
    }
    if trade_no.len() > 32 || !trade_no.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return now_fail("PARAM_ERROR", "参数错误：输入的商户订单号有误");
    }
    let check = g("check_name");
    if check != "NO_CHECK" && check != "FORCE_CHECK" {
        return now_fail("PARAM_ERROR", "check_name参数错误");
    }
    let Ok(amount) = g("amount").parse::<i64>() else {
        return now_fail("PARAM_ERROR", "amount参数错误");
    };
    if !openid_ok(&openid) {
        return now_fail("OPENID_ERROR", "Openid格式错误或者不属于商家公众账号");
    }
    // "重入必须保证所有参数值都不变" (the transfers table's FATAL_ERROR row).
    let fingerprint = format!("{appid}|{openid}|{amount}|{check}|{}", g("desc"));
    let tk = (mch.clone(), trade_no.clone());
    st.settle_refunds();
    if let Some(t) = st.transfers.get(&tk) {
        if t.fingerprint != fingerprint {
            return now_fail(
                "FATAL_ERROR",
                "两次请求商户单号一样，但是参数不一致，请使用原参数重试",
            );
        }
        return Answer::Now(match t.status {
            TransferStatus::Success => {
                let mut ok = base;
                ok.insert("result_code".into(), "SUCCESS".into());
                ok.insert("payment_no".into(), t.payment_no.clone());
                ok.insert("payment_time".into(), wx_time(t.payment_time));
                r.answer(ok)
            }
            TransferStatus::Processing => r.fail(base, "SYSTEMERROR", "系统繁忙,请稍后再试."),
            TransferStatus::Failed => r.fail(base, "SEND_FAILED", "付款错误，请查单确认付款结果"),
        });
    }
    if !(MIN_TRANSFER..=MAX_TRANSFER).contains(&amount) {
        return now_fail(
            "AMOUNT_LIMIT",
            "付款金额超出限制。低于最小金额0.30元或累计超过500.00元。",
        );
    }
    let faults = st.faults.clone();
    if roll() < faults.not_enough {
        return now_fail("NOTENOUGH", "余额不足");
    }
    let now = st.now();
    let acct = st.v2.get_mut(&mch).expect("authenticated");
    if acct.balance_fen < amount {
        return now_fail("NOTENOUGH", "余额不足");
    }
    let Roll {
        processing,
        system_error,
        timeout,
        grants,
    } = faults.roll(true);
    let mut ok = base.clone();
    if grants {
        acct.balance_fen -= amount;
        let payment_no = st.next_id("1000018301");
        st.transfers.insert(
            tk,
            Transfer {
                status: if processing {
                    TransferStatus::Processing
                } else {
                    TransferStatus::Success
                },
                ready_at: now + faults.processing_seconds as i64 * 1000,
                reason: None,
                pinned: false,
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
    // A transfer still processing answers SYSTEMERROR (its query says PROCESSING).
    finish(
        &r,
        ok,
        base,
        system_error || processing,
        timeout.then_some(faults.timeout_seconds),
        grants,
    )
}

pub async fn gettransferinfo(
    State(s): State<Shared>,
    peer: Option<Extension<PeerCert>>,
    body: String,
) -> Response {
    s.with(|st| {
        let (p, r) = match authenticate(st, &body, "mch_id", peer.as_deref()) {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        let g = |f: &str| p.get(f).cloned().unwrap_or_default();
        if let Err(e) = required(&p, &["nonce_str", "partner_trade_no", "mch_id", "appid"]) {
            return r.fail(Params::new(), "PARAM_ERROR", &e);
        }
        if let Some(code) = st.faults.query_error.clone() {
            return r.fail(Params::new(), &code, "injected query error");
        }
        st.settle_refunds();
        let Some(tr) = st.transfers.get(&(g("mch_id"), g("partner_trade_no"))) else {
            return r.fail_with(Params::new(), "NOT_FOUND", "指定单号数据不存在", true);
        };
        let mut a = Params::new();
        a.insert("result_code".into(), "SUCCESS".into());
        a.insert("err_code".into(), "SUCCESS".into());
        a.insert("err_code_des".into(), "OK".into());
        a.insert("partner_trade_no".into(), g("partner_trade_no"));
        a.insert("appid".into(), tr.app_id.clone());
        a.insert("mch_id".into(), g("mch_id"));
        a.insert("detail_id".into(), tr.payment_no.clone());
        a.insert("status".into(), tr.status.as_str().into());
        if let Some(reason) = &tr.reason {
            a.insert("reason".into(), reason.clone());
        }
        a.insert("openid".into(), tr.openid.clone());
        a.insert("payment_amount".into(), tr.amount.to_string());
        a.insert("transfer_time".into(), wx_time(tr.payment_time));
        a.insert("payment_time".into(), wx_time(tr.payment_time));
        a.insert("desc".into(), tr.desc.clone());
        r.answer(a)
    })
}
