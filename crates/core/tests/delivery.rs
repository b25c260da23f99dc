//! Every (status, step, outcome) row of the decision table, for a red packet and a coupon, young
//! and past the give-up bound.

use rewardgate_core::Fen;
use rewardgate_core::delivery::*;
use rewardgate_core::ids::{BusinessId, ChannelAccountId, OrderCode};
use rewardgate_core::order::{Order, OrderSpec, OrderStatus, PostingKind, ProductType};
use rewardgate_core::outcome::{Outcome, Wait};

const NOW: i64 = 1_795_000_000_000;
const P: Policy = Policy {
    follow_interval: 1_800_000,
    give_up_after: 86_400_000,
    follow_for: 3 * 86_400_000,
    pause: 300_000,
    pending_wait: 60_000,
    await_user_for: 2 * 86_400_000,
};

fn order(t: ProductType, status: OrderStatus, age: i64, callback: bool) -> Order {
    Order {
        id: 7,
        spec: OrderSpec {
            order_code: OrderCode::from("RG1"),
            business_id: BusinessId::from("B1"),
            merchant_id: "M1".into(),
            biz_code: "b".into(),
            product_type: t,
            fingerprint: String::new(),
            template_id: None,
            product_code: None,
            activity_id: None,
            open_id: Some("o".into()),
            mobile: None,
            app_id: None,
            amount: Some(Fen(100)),
            settlement: Fen(101),
            callback_url: callback.then(|| "https://m.example/cb".to_string()),
            description: None,
            channel_account_id: ChannelAccountId::from("wx2"),
            created_at: NOW - age,
            delivery: None,
        },
        status,
        upstream_id: None,
        error_code: None,
        error_message: None,
        version: 3,
        updated_at: NOW - age,
        finished_at: None,
        upstream_key: Some("K".into()),
        job_state: None,
        job_attempts: 1,
        user_confirm: None,
    }
}

fn outcomes() -> Vec<(&'static str, Outcome)> {
    vec![
        (
            "granted",
            Outcome::Granted {
                upstream_id: "U".into(),
                extra: None,
            },
        ),
        (
            "failed",
            Outcome::Failed {
                code: "MONEY_LIMIT".into(),
                message: "m".into(),
            },
        ),
        (
            "unknown",
            Outcome::Unknown {
                reason: "timeout".into(),
            },
        ),
        (
            "pending",
            Outcome::Pending {
                code: "PROCESSING".into(),
                message: String::new(),
            },
        ),
        ("not_found", Outcome::NotFound),
        (
            "received",
            Outcome::Received {
                upstream_id: "U".into(),
            },
        ),
        (
            "refunded",
            Outcome::Refunded {
                upstream_id: "U".into(),
            },
        ),
        (
            "morning",
            Outcome::Deferred {
                code: "TIME_LIMITED".into(),
                message: String::new(),
                wait: Wait::ShanghaiMorning,
            },
        ),
        (
            "backoff",
            Outcome::Deferred {
                code: "FREQ_LIMIT".into(),
                message: String::new(),
                wait: Wait::Backoff,
            },
        ),
        (
            "next_day",
            Outcome::Deferred {
                code: "SENDAMOUNT_LIMIT".into(),
                message: String::new(),
                wait: Wait::NextShanghaiDay,
            },
        ),
        (
            "pause",
            Outcome::Deferred {
                code: "NOTENOUGH".into(),
                message: String::new(),
                wait: Wait::PauseAccount,
            },
        ),
    ]
}

/// A plan in one short word: the new status (or `-`), and the next step with its delay class.
fn summary(p: &Plan) -> String {
    let to = p.change.as_ref().map_or("-", |c| c.to.as_str());
    let next = match &p.next {
        Next::Done => "done".to_string(),
        Next::Stuck => "stuck".to_string(),
        Next::Again { step, not_before } => {
            let d = not_before - NOW;
            let when = match d {
                0 => "now",
                d if d == P.follow_interval => "follow",
                d if d == P.pause => "pause",
                d if d == P.pending_wait << 1 => "pending",
                d if d == shanghai_morning(NOW) - NOW => "morning",
                d if d == next_shanghai_day(NOW) - NOW => "next_day",
                d if d > 0 && d <= 61_000 * 2 => "backoff",
                _ => "?",
            };
            format!("{}@{when}", step.as_str())
        }
    };
    let pause = if p.pause.is_some() { "+pause" } else { "" };
    format!("{to} {next}{pause}")
}

/// (product, status, step, outcome) → summary, for orders within every bound.
#[test]
fn the_table() {
    use OrderStatus::*;
    use ProductType::*;
    let rows: &[(ProductType, OrderStatus, Step, &str, &str)] = &[
        // A first send of a red packet.
        (
            RedPacket,
            Processing,
            Step::Send,
            "granted",
            "SUCCESS FOLLOW@follow",
        ),
        (RedPacket, Processing, Step::Send, "failed", "FAILED done"),
        (
            RedPacket,
            Processing,
            Step::Send,
            "unknown",
            "- CHECK@backoff",
        ),
        (
            RedPacket,
            Processing,
            Step::Send,
            "pending",
            "- CHECK@pending",
        ),
        (
            RedPacket,
            Processing,
            Step::Send,
            "not_found",
            "- CHECK@backoff",
        ),
        (
            RedPacket,
            Processing,
            Step::Send,
            "morning",
            "- SEND@morning",
        ),
        (
            RedPacket,
            Processing,
            Step::Send,
            "backoff",
            "- SEND@backoff",
        ),
        (
            RedPacket,
            Processing,
            Step::Send,
            "next_day",
            "- SEND@next_day",
        ),
        (
            RedPacket,
            Processing,
            Step::Send,
            "pause",
            "- SEND@pause+pause",
        ),
        // After an unknown outcome: NOT_FOUND allows the resend with the same key.
        (
            RedPacket,
            Processing,
            Step::Check,
            "not_found",
            "- SEND@now",
        ),
        (
            RedPacket,
            Processing,
            Step::Check,
            "granted",
            "SUCCESS FOLLOW@follow",
        ),
        (
            RedPacket,
            Processing,
            Step::Check,
            "received",
            "SUCCESS FOLLOW@now",
        ),
        (
            RedPacket,
            Processing,
            Step::Check,
            "refunded",
            "SUCCESS FOLLOW@now",
        ),
        (
            RedPacket,
            Processing,
            Step::Check,
            "unknown",
            "- CHECK@backoff",
        ),
        (
            RedPacket,
            Processing,
            Step::Check,
            "pending",
            "- CHECK@pending",
        ),
        // Following a sent red packet.
        (
            RedPacket,
            Success,
            Step::Follow,
            "granted",
            "- FOLLOW@follow",
        ),
        (
            RedPacket,
            Success,
            Step::Follow,
            "received",
            "RECEIVED done",
        ),
        (
            RedPacket,
            Success,
            Step::Follow,
            "refunded",
            "REFUNDED done",
        ),
        (
            RedPacket,
            Success,
            Step::Follow,
            "unknown",
            "- FOLLOW@backoff",
        ),
        (
            RedPacket,
            Success,
            Step::Follow,
            "failed",
            "- FOLLOW@backoff",
        ),
        (
            RedPacket,
            Success,
            Step::Follow,
            "not_found",
            "- FOLLOW@backoff",
        ),
        (
            RedPacket,
            Success,
            Step::Follow,
            "pause",
            "- FOLLOW@pause+pause",
        ),
        // Coupons are done at SUCCESS; a received or refunded answer means nothing for them.
        (
            WechatCoupon,
            Processing,
            Step::Send,
            "granted",
            "SUCCESS done",
        ),
        (
            WechatCoupon,
            Processing,
            Step::Check,
            "failed",
            "FAILED done",
        ),
        (
            WechatCoupon,
            Processing,
            Step::Check,
            "not_found",
            "- SEND@now",
        ),
        (
            WechatCoupon,
            Processing,
            Step::Send,
            "backoff",
            "- SEND@backoff",
        ),
        (
            AlipayCoupon,
            Processing,
            Step::Send,
            "granted",
            "SUCCESS done",
        ),
        (
            WechatTransfer,
            Processing,
            Step::Check,
            "pending",
            "- CHECK@pending",
        ),
    ];
    let all = outcomes();
    for (t, status, step, name, want) in rows {
        let o = order(*t, *status, 60_000, true);
        let job = Job {
            step: *step,
            attempts: 1,
            first_sent_at: Some(NOW - 60_000),
        };
        let outcome = &all.iter().find(|(n, _)| n == name).unwrap().1;
        let plan = decide(&o, &job, *step, outcome, &P, NOW);
        assert_eq!(summary(&plan), *want, "{t:?} {status:?} {step:?} {name}");
    }
}

/// Past the give-up bound, anything that does not settle the order makes it stuck; what settles
/// it still does.
#[test]
fn past_the_bound() {
    let old = order(
        ProductType::WechatCoupon,
        OrderStatus::Processing,
        2 * 86_400_000,
        true,
    );
    let job = Job {
        step: Step::Check,
        attempts: 9,
        first_sent_at: None,
    };
    for (name, outcome) in outcomes() {
        let s = summary(&decide(&old, &job, Step::Check, &outcome, &P, NOW));
        let want = match name {
            "granted" => "SUCCESS done",
            "failed" => "FAILED done",
            "received" | "refunded" => "SUCCESS FOLLOW@now",
            "not_found" => "- SEND@now",
            _ => "- stuck",
        };
        assert_eq!(s, want, "{name}");
    }
}

/// A red packet is followed from its send: an order created long ago but sent lately is still
/// followed; one sent longer ago than `follow_for` goes to an operator.
#[test]
fn follow_bound_counts_from_the_send() {
    let o = order(
        ProductType::RedPacket,
        OrderStatus::Success,
        2 * 86_400_000,
        false,
    );
    let recent = Job {
        step: Step::Follow,
        attempts: 3,
        first_sent_at: Some(NOW - 3_600_000),
    };
    let unknown = Outcome::Unknown { reason: "x".into() };
    assert_eq!(
        summary(&decide(&o, &recent, Step::Follow, &unknown, &P, NOW)),
        "- FOLLOW@backoff"
    );
    let long_ago = Job {
        first_sent_at: Some(NOW - 4 * 86_400_000),
        ..recent
    };
    assert_eq!(
        summary(&decide(&o, &long_ago, Step::Follow, &unknown, &P, NOW)),
        "- stuck"
    );
}

/// What changes carry: the posting and its amount, the report with the next version.
#[test]
fn postings_and_reports() {
    let granted = Outcome::Granted {
        upstream_id: "U1".into(),
        extra: None,
    };
    let o = order(ProductType::RedPacket, OrderStatus::Processing, 1000, true);
    let job = Job {
        step: Step::Send,
        attempts: 1,
        first_sent_at: None,
    };
    let c = decide(&o, &job, Step::Send, &granted, &P, NOW)
        .change
        .unwrap();
    assert_eq!(c.posting, Some((PostingKind::Capture, Fen(101))));
    assert_eq!(c.upstream_id.as_deref(), Some("U1"));
    assert_eq!(c.finished_at, Some(NOW));
    let r = c.report.unwrap();
    assert_eq!(r.notify_id, "RG1-4");
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["version"].as_i64()),
        (Some("SUCCESS"), Some(4))
    );
    // A refund credits back the red packet's amount; the fee stays.
    let s = order(ProductType::RedPacket, OrderStatus::Success, 1000, false);
    let c = decide(
        &s,
        &job,
        Step::Follow,
        &Outcome::Refunded {
            upstream_id: "U1".into(),
        },
        &P,
        NOW,
    )
    .change
    .unwrap();
    assert_eq!(c.posting, Some((PostingKind::Refund, Fen(100))));
    assert!(c.report.is_none(), "no callback target, no report");
    // A failure releases the whole hold and carries its reason.
    let f = Outcome::Failed {
        code: "MONEY_LIMIT".into(),
        message: "m".into(),
    };
    let c = decide(&o, &job, Step::Send, &f, &P, NOW).change.unwrap();
    assert_eq!(c.posting, Some((PostingKind::Release, Fen(101))));
    assert_eq!(c.error_code.as_deref(), Some("MONEY_LIMIT"));
    // An empty upstream id (seed 002's success has no send_listid) is no id.
    let g = Outcome::Granted {
        upstream_id: String::new(),
        extra: None,
    };
    assert_eq!(
        decide(&o, &job, Step::Send, &g, &P, NOW)
            .change
            .unwrap()
            .upstream_id,
        None
    );
}

#[test]
fn clocks() {
    // 2021-08-12 03:00 Shanghai = 2021-08-11T19:00Z → 08:00 Shanghai = 00:00Z on the 12th.
    assert_eq!(shanghai_morning(1_628_708_400_000), 1_628_726_400_000);
    assert_eq!(
        shanghai_morning(1_628_730_000_000),
        1_628_726_400_000 + 86_400_000
    );
    // 2021-08-12 09:00 Shanghai → 2021-08-13 00:05 Shanghai = 2021-08-12T16:05Z.
    assert_eq!(next_shanghai_day(1_628_730_000_000), 1_628_784_300_000);
    assert_eq!(pending_wait(0, 60_000), 60_000);
    assert_eq!(pending_wait(9, 60_000), 1_200_000);
    assert!((500..=625).contains(&backoff(0, NOW)));
    assert!((60_000..=75_000).contains(&backoff(30, NOW)));
}

/// A 商家转账 reaching the user: the order stays PROCESSING but changes once (version, kept
/// `userConfirm`, a report carrying it); the same answer again changes nothing; its bound runs
/// from the send on WeChat's 24-hour clock (`await_user_for`), not from the order's creation.
#[test]
fn awaiting_the_user() {
    use rewardgate_core::order::UserConfirm;
    let confirm = UserConfirm {
        mch_id: "1900000109".into(),
        app_id: "wx8888888888888888".into(),
        package: "PKG".into(),
    };
    let outcome = Outcome::AwaitingUser {
        confirm: confirm.clone(),
    };
    let o = order(
        ProductType::WechatTransfer,
        OrderStatus::Processing,
        3_600_000,
        true,
    );
    let job = Job {
        step: Step::Send,
        attempts: 1,
        first_sent_at: Some(NOW - 1000),
    };
    let plan = decide(&o, &job, Step::Send, &outcome, &P, NOW);
    let c = plan.change.clone().expect("a change");
    assert_eq!(
        (c.from, c.to),
        (OrderStatus::Processing, OrderStatus::Processing)
    );
    assert_eq!(c.posting, None, "no money moves");
    assert_eq!(c.user_confirm.as_ref(), Some(&confirm));
    let body: serde_json::Value = serde_json::from_str(&c.report.expect("a report").body).unwrap();
    assert_eq!(body["status"], "PROCESSING");
    assert_eq!(body["version"], 4);
    assert_eq!(body["userConfirm"]["package"], "PKG");
    assert_eq!(body["userConfirm"]["mchId"], "1900000109");
    assert!(matches!(
        plan.next,
        Next::Again {
            step: Step::Check,
            ..
        }
    ));
    // Known already: asked again later, nothing written.
    let seen = Order {
        user_confirm: Some(confirm.clone()),
        ..o.clone()
    };
    let again = decide(&seen, &job, Step::Check, &outcome, &P, NOW);
    assert!(again.change.is_none());
    let pending = Outcome::Pending {
        code: "WAIT_USER_CONFIRM".into(),
        message: "m".into(),
    };
    // Created 30 hours ago, sent 25 hours ago: past give_up_after, within await_user_for.
    let old = Order {
        spec: rewardgate_core::order::OrderSpec {
            created_at: NOW - 30 * 3_600_000,
            ..seen.spec.clone()
        },
        ..seen.clone()
    };
    let sent = Job {
        step: Step::Check,
        attempts: 1,
        first_sent_at: Some(NOW - 25 * 3_600_000),
    };
    assert_eq!(
        summary(&decide(&old, &sent, Step::Check, &pending, &P, NOW)),
        "- CHECK@pending"
    );
    let long_ago = Job {
        first_sent_at: Some(NOW - 49 * 3_600_000),
        ..sent
    };
    assert_eq!(
        summary(&decide(&old, &long_ago, Step::Check, &pending, &P, NOW)),
        "- stuck"
    );
    // WeChat's end of it (a query's CANCELLED) fails the order and releases the hold.
    let cancelled = Outcome::Failed {
        code: "CANCELLED".into(),
        message: "超过24小时未确认收款".into(),
    };
    let p = decide(&old, &sent, Step::Check, &cancelled, &P, NOW);
    assert_eq!(summary(&p), "FAILED done");
    assert_eq!(
        p.change.unwrap().posting.map(|x| x.0),
        Some(PostingKind::Release)
    );
}
