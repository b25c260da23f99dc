//! The admin API (SPEC §8, `admin/`): request bodies as `rewardgate_core::catalog` parses them,
//! answers as the handlers and `views` write them.

use super::catalog::{id, kinds};
use super::open::{order_fields, order_status};
use super::*;
use utoipa::openapi::PathItem;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};

pub(super) fn paths(p: PathsBuilder) -> PathsBuilder {
    let mut p = p;
    let at = |path: &str| format!("/admin/v1{path}");
    for k in kinds() {
        let get = admin_op(
            &format!("get{}", k.name),
            &format!("Read a {} (secrets masked)", k.what),
        );
        let get = answers(
            path_param(get, "id", id()),
            "the object, or 40401",
            object(k.view.clone(), true),
        );
        let put = admin_op(
            &format!("put{}", k.name),
            &format!("Create or replace a {}", k.what),
        );
        let put = body(
            path_param(put, "id", id()),
            "the object",
            object(k.put, false),
        );
        let put = answers(
            put,
            "the stored object (secrets masked), or a refusal naming the field",
            object(k.view, true),
        );
        let item = PathItem::new(HttpMethod::Get, done(get));
        let mut item = item;
        item.put = Some(done(put));
        p = p.path(at(k.path), item);
    }
    let balance = || {
        object(
            [
                ("amount", true, yuan("what can still be spent")),
                ("frozen", true, yuan("what orders in flight hold")),
                ("creditLine", true, yuan("how far below zero it may go")),
                ("spent", true, yuan("captured so far")),
            ],
            true,
        )
    };
    let o = admin_op(
        "topup",
        "Top up a business's balance (idempotent by reference)",
    );
    let o = body(
        path_param(o, "id", id()),
        "the top-up",
        object(
            [
                ("amount", true, yuan("the amount")),
                (
                    "reference",
                    true,
                    text(
                        "a second top-up with the same reference changes nothing (another amount: 40901)",
                        128,
                    ),
                ),
            ],
            false,
        ),
    );
    p = post(
        p,
        at("/businesses/{id}/topups"),
        answers(o, "the balance after it", balance()),
    );
    let o = path_param(admin_op("getBalance", "A business's balance"), "id", id());
    p = get(
        p,
        at("/businesses/{id}/balance"),
        answers(o, "the balance", balance()),
    );
    let o = admin_op(
        "putOpenids",
        "Store Rabbitpre user id → WeChat openid mappings",
    );
    let pair = object(
        [
            ("userId", true, text("the Rabbitpre user_id", 128)),
            (
                "openid",
                true,
                pattern("the WeChat openid", "^[A-Za-z0-9_-]{1,128}$"),
            ),
        ],
        false,
    );
    let o = body(
        path_param(o, "id", id()),
        "up to 10 000 mappings a call",
        object(
            [("mappings", true, list(schema(pair), "the mappings"))],
            false,
        ),
    );
    let stored = object(
        [
            ("integration", true, string("")),
            ("stored", true, integer("how many")),
        ],
        true,
    );
    p = post(
        p,
        at("/rabbitpre-integrations/{id}/openids"),
        answers(o, "how many were stored", stored),
    );
    let o = admin_op(
        "getOpenid",
        "The WeChat openid mapped to a Rabbitpre user id",
    );
    let o = path_param(
        path_param(o, "id", id()),
        "user",
        text("the Rabbitpre user_id", 128),
    );
    let one = object(
        [
            ("integration", true, string("")),
            ("userId", true, string("")),
            ("openid", true, string("")),
        ],
        true,
    );
    p = get(
        p,
        at("/rabbitpre-integrations/{id}/openids/{user}"),
        answers(o, "the mapping, or 40401", one),
    );
    p = get(p, at("/orders"), list_orders());
    let code = || text("the order's orderCode", 64);
    let o = path_param(
        admin_op(
            "getOrder",
            "An order with its postings, attempts and notifications",
        ),
        "code",
        code(),
    );
    p = get(
        p,
        at("/orders/{code}"),
        answers(o, "the order, or 40401", object(detail_fields(), true)),
    );
    let o = path_param(
        admin_op(
            "retryOrder",
            "Re-run a stuck order with its same upstream key",
        ),
        "code",
        code(),
    );
    p = post(
        p,
        at("/orders/{code}/retry"),
        answers(
            o,
            "the order re-armed, or a refusal",
            object(admin_order_fields(), true),
        ),
    );
    let o = path_param(
        admin_op(
            "cancelOrder",
            "Cancel a 商家转账 WeChat Pay has not paid yet (before the user confirms); the bill's \
             query then releases the hold",
        ),
        "code",
        code(),
    );
    let mut cancelled = object(admin_order_fields(), true);
    cancelled = cancelled.property(
        "billState",
        one_of(
            "the bill's state as WeChat Pay answered the cancel",
            &["CANCELING", "CANCELLED"],
        ),
    );
    p = post(
        p,
        at("/orders/{code}/cancel"),
        answers(
            o,
            "the order and the bill's state, or a refusal (40001 naming why, 50001 when WeChat \
             Pay's answer is not known)",
            cancelled.required("billState"),
        ),
    );
    let o = path_param(
        admin_op(
            "orderNotifications",
            "An order's status reports with every attempt",
        ),
        "code",
        code(),
    );
    let reports = object(
        [
            ("orderCode", true, string("")),
            ("items", true, list(schema(report(true)), "the reports")),
        ],
        true,
    );
    p = get(
        p,
        at("/orders/{code}/notifications"),
        answers(o, "the reports, or 40401", reports),
    );
    let o = admin_op(
        "redeliver",
        "Send a status report again from the start of its schedule",
    );
    let o = path_param(o, "id", text("the report's notifyId", 64));
    p = post(
        p,
        at("/notifications/{id}/redeliver"),
        answers(o, "the report, or a refusal", report(false)),
    );
    let o = admin_op("jobCounts", "Delivery jobs by state");
    let counts = object([], true)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::Integer)));
    p = get(p, at("/jobs"), answers(o, "a count per job state", counts));
    let o = admin_op("ledger", "Check that the ledger sums to zero");
    let ledger = object(
        [
            ("sum", true, integer("the sum of every posting, in fen")),
            ("postings", true, integer("how many postings")),
            (
                "mismatchedAccounts",
                true,
                list(
                    string(""),
                    "accounts whose balance differs from their postings",
                ),
            ),
            (
                "balanced",
                true,
                boolean("the sum is zero and no account mismatches"),
            ),
        ],
        true,
    );
    get(p, at("/ledger"), answers(o, "the check", ledger))
}

fn get(p: PathsBuilder, path: String, o: OperationBuilder) -> PathsBuilder {
    p.path(path, PathItem::new(HttpMethod::Get, done(o)))
}

fn post(p: PathsBuilder, path: String, o: OperationBuilder) -> PathsBuilder {
    p.path(path, PathItem::new(HttpMethod::Post, done(o)))
}

fn list_orders() -> OperationBuilder {
    let o = admin_op("listOrders", "Orders, newest first, a page at a time");
    let o = query_param(o, "merchantId", "only this merchant's", string(""));
    let o = query_param(o, "businessId", "only this business's", string(""));
    let o = query_param(o, "status", "only orders in this status", order_status());
    let o = query_param(
        o,
        "limit",
        "page size (default 50)",
        schema(
            typed(Type::Integer, "1-1000")
                .minimum(Some(1))
                .maximum(Some(1000)),
        ),
    );
    let o = query_param(
        o,
        "cursor",
        "`nextCursor` of the previous page",
        pattern("", "^[0-9]{1,18}$"),
    );
    let page = object(
        [
            (
                "items",
                true,
                list(schema(object(admin_order_fields(), false)), "the orders"),
            ),
            (
                "nextCursor",
                true,
                nullable(Type::String, "for the next page; null on the last"),
            ),
        ],
        true,
    );
    answers(
        o,
        "a page of orders, or a refusal naming the bad parameter",
        page,
    )
}

/// `views::admin_order_view`.
fn admin_order_fields() -> Vec<Field> {
    let s = |about| nullable(Type::String, about);
    let mut f = order_fields();
    f.extend([
        ("channelAccountId", true, string("")),
        ("callbackUrl", true, s("")),
        ("description", true, s("")),
        (
            "jobState",
            true,
            nullable(Type::String, "READY, IN_FLIGHT, DONE or STUCK"),
        ),
        ("attempts", true, integer("delivery attempts")),
        ("updatedAt", true, integer("epoch ms")),
    ]);
    f
}

/// `views::order_detail_view`: `attempts` becomes the list of upstream attempts.
fn detail_fields() -> Vec<Field> {
    let mut f: Vec<Field> = admin_order_fields()
        .into_iter()
        .filter(|(n, _, _)| *n != "attempts")
        .collect();
    let posting = object(
        [
            (
                "kind",
                true,
                string("TOPUP, HOLD, CAPTURE, RELEASE or REFUND"),
            ),
            ("amount", true, yuan("")),
            ("at", true, integer("epoch ms")),
        ],
        false,
    );
    let attempt = object(
        [
            ("step", true, string("")),
            ("outcome", true, string("")),
            ("detail", true, nullable(Type::String, "")),
            ("latencyMs", true, integer("")),
            ("worker", true, string("")),
            ("at", true, integer("epoch ms")),
        ],
        false,
    );
    f.extend([
        ("postings", true, list(schema(posting), "ledger postings")),
        ("attempts", true, list(schema(attempt), "upstream attempts")),
        (
            "notifications",
            true,
            list(schema(report(true)), "status reports"),
        ),
    ]);
    f
}

/// `views::report_view`, with its attempts when `with_log`.
fn report(with_log: bool) -> ObjectBuilder {
    let mut f: Vec<Field> = vec![
        ("notifyId", true, string("")),
        ("version", true, integer("")),
        ("target", true, string("the callback URL")),
        ("state", true, string("")),
        ("attempts", true, integer("")),
        ("nextAt", true, integer("epoch ms")),
        ("lastError", true, nullable(Type::String, "")),
        ("createdAt", true, integer("epoch ms")),
        ("deliveredAt", true, nullable(Type::Integer, "epoch ms")),
        ("body", true, any_object("the report as sent (SPEC §5)")),
    ];
    if with_log {
        let a = object(
            [
                ("at", true, integer("epoch ms")),
                ("httpStatus", true, nullable(Type::Integer, "")),
                ("latencyMs", true, integer("")),
                ("error", true, nullable(Type::String, "")),
            ],
            false,
        );
        f.push((
            "attemptLog",
            true,
            list(schema(a), "every delivery attempt"),
        ));
    }
    object(f, !with_log)
}
