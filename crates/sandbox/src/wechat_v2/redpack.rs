//! Red packets: `sendredpack`, `sendminiprogramhb` and the `gethbinfo` query.

use super::*;

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

/// mch_billno: String(28) of 0-9a-zA-Z; mch_id + yyyymmdd + 10 digits is only the document's
/// suggestion (handsomegyr/wechat Qy/Pay.php:L219 取值范围：0~9，a~z，A~Z … 组成参考).
fn billno_ok(b: &str) -> bool {
    (1..=28).contains(&b.len()) && b.bytes().all(|c| c.is_ascii_alphanumeric())
}

fn send(st: &mut World, body: &str, peer: Option<&PeerCert>, mini: bool) -> Answer {
    let (p, r) = match authenticate(st, body, "mch_id", peer) {
        Ok(x) => x,
        Err(resp) => return Answer::Now(resp),
    };
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
    let now_fail = |code: &str, des: &str| Answer::Now(r.fail(base.clone(), code, des));
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
        return now_fail("PARAM_ERROR", &e);
    }
    if mini && g("notify_way") != "MINI_PROGRAM_JSAPI" {
        return now_fail("PARAM_ERROR", "notify_way参数错误");
    }
    let acct = st.v2.get(&mch).expect("authenticated");
    if !acct.app_ids.is_empty() && !acct.app_ids.contains(&appid) {
        return now_fail("PARAM_ERROR", "商户号和wxappid不匹配");
    }
    if !billno_ok(&billno) {
        return now_fail("PARAM_ERROR", "参数错误:订单号字段必填,最长为28个字符.");
    }
    let Ok(amount) = g("total_amount").parse::<i64>() else {
        return now_fail("PARAM_ERROR", "红包金额参数错误");
    };
    if g("total_num") != "1" {
        return now_fail("PARAM_ERROR", "total_num必须为1");
    }
    // The old page's own messages for these widths (a copy in a Go comment; see policy.rs).
    if let Some(msg) = too_long(
        &p,
        &[
            ("send_name", 32, "send_name字段为必填并且少于32字符"),
            (
                "act_name",
                32,
                "参数错误:act_name字段必填,并且少于32个字符.",
            ),
            ("wishing", 128, "wishing字段为必填,并且少于128个字符"),
            ("remark", 256, "remark字段为必填,并且少于256字符"),
        ],
    ) {
        return now_fail("PARAM_ERROR", &msg);
    }
    let scene = g("scene_id");
    if !scene.is_empty() && !rewardgate_core::catalog::SCENE_IDS.contains(&scene.as_str()) {
        return now_fail("PARAM_ERROR", "scene_id参数错误");
    }
    if !openid_ok(&openid) {
        return now_fail("OPENID_ERROR", "Openid错误");
    }
    // A request whose own content breaks its signature (the account's key is fine): `oSIGERR…`.
    if openid.starts_with("oSIGERR") {
        return now_fail("SIGN_ERROR", "签名错误");
    }
    let fingerprint = format!("{mini}|{appid}|{openid}|{amount}|{}", g("act_name"));
    st.settle_refunds();
    if let Some(rp) = st.redpacks.get(&billno) {
        if rp.fingerprint != fingerprint {
            return now_fail("FATAL_ERROR", "openid和原始单参数不一致");
        }
        return Answer::Now(match rp.status {
            RedpackStatus::Sending => r.fail(
                base,
                "PROCESSING",
                "请求已受理，请稍后使用原单号查询发放结果",
            ),
            RedpackStatus::Failed => r.fail(
                base,
                "SEND_FAILED",
                "该红包已经发放失败，如果需要重新发放，请更换单号再发放",
            ),
            _ => {
                let mut ok = base;
                ok.insert("result_code".into(), "SUCCESS".into());
                ok.insert("err_code".into(), "SUCCESS".into());
                ok.insert("err_code_des".into(), "发放成功".into());
                ok.insert("send_listid".into(), rp.send_listid.clone());
                if let Some(pk) = &rp.package {
                    ok.insert("package".into(), pk.clone());
                }
                r.answer(ok)
            }
        });
    }
    // 1–200 yuan without a scene (seed 002); with one (required outside that range), the range
    // the merchant set on its platform, between 0.30 and 4999 yuan (Qy/Pay.php:L181; WxJava
    // issue #802: with scene_id still "1-200元" until the minimum is lowered).
    let (min, max) = if scene.is_empty() {
        (100, 20_000)
    } else {
        st.v2.get(&mch).expect("authenticated").scene_range
    };
    if !(min..=max).contains(&amount) {
        return now_fail(
            "MONEY_LIMIT",
            "每个红包的平均金额必须在1.00元到200.00元之间.",
        );
    }
    if openid.starts_with("oRISK") {
        return now_fail("NO_AUTH", "发放失败，此请求可能存在风险，已被微信拦截");
    }
    let now = st.now();
    if st.faults.enforce_time_limit && shanghai_hour(now) < 8 {
        return now_fail(
            "TIME_LIMITED",
            "企业红包的发送时间受限，请北京时间0:00-8:00以外发送",
        );
    }
    let faults = st.faults.clone();
    let not_enough = || {
        Answer::Now(r.fail_with(
            base.clone(),
            "NOTENOUGH",
            "帐号余额不足，请到商户平台充值后再重试",
            true,
        ))
    };
    if roll() < faults.not_enough {
        return not_enough();
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
        return now_fail(
            "SECOND_OVER_LIMITED",
            "企业红包的按分钟发放受限，每分钟发送红包数量不得超过1800个",
        );
    }
    let (limit_mch, limit_user) = (acct.daily_amount_limit, acct.user_daily_amount_limit);
    let ymd = shanghai_ymd(now);
    let day_key = (mch.clone(), openid.clone(), ymd.clone());
    let (count, received) = st.daily.get(&day_key).copied().unwrap_or((0, 0));
    if count >= PER_USER_DAY {
        return now_fail("SENDNUM_LIMIT", "该用户今日领取红包个数超过限制");
    }
    if received + amount > limit_user {
        return now_fail(
            "RCVDAMOUNT_LIMIT",
            "该用户今日领取金额超过限制，如有需要请登录微信支付商户平台更改API安全配置",
        );
    }
    let sent_key = (mch.clone(), ymd);
    if st.daily_sent.get(&sent_key).copied().unwrap_or(0) + amount > limit_mch {
        return now_fail(
            "SENDAMOUNT_LIMIT",
            "您的商户号今日发放金额超过限制，如有需要请登录微信支付商户平台更改API安全配置",
        );
    }
    let acct = st.v2.get_mut(&mch).expect("authenticated");
    if acct.balance_fen < amount {
        return not_enough();
    }
    // An injected SYSTEMERROR or timeout may or may not have granted, as upstream; an injected
    // PROCESSING has (the red packet is SENDING for a while).
    let Roll {
        processing,
        system_error,
        timeout,
        grants,
    } = faults.roll(true);
    if grants {
        acct.balance_fen -= amount;
        acct.recent_sends.push_back(now);
        let e = st.daily.entry(day_key).or_insert((0, 0));
        e.0 += 1;
        e.1 += amount;
        *st.daily_sent.entry(sent_key).or_insert(0) += amount;
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
                status: if processing {
                    RedpackStatus::Sending
                } else {
                    RedpackStatus::Sent
                },
                rcv_time: None,
                refund_time: None,
                package: package.clone(),
                ready_at: now + faults.processing_seconds as i64 * 1000,
                reason: None,
                pinned: false,
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
    if processing {
        return Answer::Now(r.fail(
            base,
            "PROCESSING",
            "请求已受理，请稍后使用原单号查询发放结果",
        ));
    }
    let mut ok = base.clone();
    ok.insert("err_code".into(), "SUCCESS".into());
    ok.insert("err_code_des".into(), "发放成功".into());
    finish(
        &r,
        ok,
        base,
        system_error,
        timeout.then_some(faults.timeout_seconds),
        grants,
    )
}

pub async fn gethbinfo(
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
        if let Err(e) = required(&p, &["nonce_str", "mch_billno", "mch_id", "appid", "bill_type"]) {
            return r.fail(Params::new(), "PARAM_ERROR", &e);
        }
        if let Some(code) = st.faults.query_error.clone() {
            return r.fail(Params::new(), &code, "injected query error");
        }
        st.settle_refunds();
        let billno = g("mch_billno");
        let mut base = Params::new();
        base.insert("mch_billno".into(), billno.clone());
        base.insert("mch_id".into(), g("mch_id"));
        let Some(rp) = st.redpacks.get(&billno).filter(|x| x.mch_id == g("mch_id")) else {
            // The doc sample's shape: return_code FAIL + result_code FAIL (Pay337.php:L637-647).
            return r.fail_with(base, "NOT_FOUND", "指定单号数据不存在", true);
        };
        let mut a = base;
        a.insert("result_code".into(), "SUCCESS".into());
        a.insert("err_code".into(), "SUCCESS".into());
        a.insert("err_code_des".into(), "OK".into());
        a.insert("detail_id".into(), rp.send_listid.clone());
        a.insert("status".into(), rp.status.as_str().into());
        a.insert("send_type".into(), "API".into());
        a.insert("hb_type".into(), "NORMAL".into());
        a.insert("total_num".into(), "1".into());
        a.insert("total_amount".into(), rp.amount.to_string());
        a.insert("send_time".into(), wx_time(rp.sent_at));
        if let Some(reason) = &rp.reason {
            a.insert("reason".into(), reason.clone());
        }
        if let Some(rt) = rp.refund_time {
            a.insert("refund_time".into(), wx_time(rt));
            a.insert("refund_amount".into(), rp.amount.to_string());
        }
        let hblist = match rp.rcv_time {
            Some(rcv) => format!(
                "<hblist><hbinfo><openid><![CDATA[{}]]></openid><amount>{}</amount><rcv_time><![CDATA[{}]]></rcv_time></hbinfo></hblist>",
                rp.openid,
                rp.amount,
                wx_time(rcv)
            ),
            None => String::new(),
        };
        a.insert("return_code".into(), "SUCCESS".into());
        a.insert("return_msg".into(), "OK".into());
        if let Some(k) = &r.key {
            let sig = v2::sign(&a, k, SignType::Md5);
            a.insert("sign".into(), sig);
        }
        xml_response(xml::write_with(&a, &hblist))
    })
}
