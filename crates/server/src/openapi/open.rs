//! The open API (SPEC §2–§4, `open_api.rs`), the Rabbitpre endpoint (SPEC §6, `rabbitpre.rs`)
//! and the operational paths, as the handlers parse and answer them.

use super::*;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};

pub(super) fn paths(p: PathsBuilder) -> PathsBuilder {
    let post = |p: PathsBuilder, path: &str, o: OperationBuilder| {
        p.path(path, PathItem::new(HttpMethod::Post, done(o)))
    };
    let get = |p: PathsBuilder, path: &str, o: OperationBuilder| {
        p.path(path, PathItem::new(HttpMethod::Get, done(o)))
    };
    let mut p = p;
    for (path, id, summary, fields) in creates() {
        let o = signed(op(OPEN, id, summary));
        let o = body(o, "the order (SPEC §4)", object(fields, false));
        let o = answers(
            o,
            "the order was accepted (or is the one this bizCode already made), or a refusal",
            object(
                [
                    ("orderCode", true, string("the platform's order code")),
                    ("bizCode", true, string("the merchant's order number")),
                    (
                        "settlementPrice",
                        true,
                        yuan("what the balance holds for it"),
                    ),
                ],
                true,
            ),
        );
        p = post(p, path, o);
    }
    let o = signed(op(OPEN, "orderInfo", "An order's current state"));
    let o = body(
        o,
        "which order: bizCode or orderCode (or both, naming the same order)",
        object(
            caller().into_iter().chain([
                ("bizCode", false, text("the merchant's order number", 64)),
                ("orderCode", false, text("the platform's order code", 64)),
            ]),
            false,
        ),
    );
    let o = answers(
        o,
        "the order, or a refusal (40401 not found)",
        order_view(true),
    );
    p = post(p, "/v1/openapi/order/info", o);
    let o = signed(op(OPEN, "businessBalance", "The business's balance"));
    let o = body(o, "whose balance", object(caller(), false));
    let o = answers(
        o,
        "the balance in yuan, or a refusal",
        object(
            [
                ("merchantId", true, string("as asked")),
                ("businessId", true, string("as asked")),
                ("amount", true, yuan("what can still be spent")),
                ("frozen", true, yuan("what orders in flight hold")),
                (
                    "creditLine",
                    true,
                    yuan("how far below zero the balance may go"),
                ),
            ],
            true,
        ),
    );
    p = post(p, "/v1/openapi/merchant/business/balance", o);
    let o = op(
        OPEN,
        "platformPublicKey",
        "The platform's RSA public key that signs callbacks (no signature needed)",
    );
    let o = answers(
        o,
        "the key as PEM",
        object(
            [
                ("publicKey", true, string("PEM (SPKI)")),
                (
                    "signType",
                    true,
                    one_of("how callbacks are signed", &["SHA256-RSA"]),
                ),
            ],
            false,
        ),
    );
    p = get(p, "/v1/openapi/platform/publicKey", o);
    p = post(p, "/pay/sendApiRedPack", super::rabbitpre::operation());
    p = post(
        p,
        "/v1/notify/wechat/transfer-bills/{channelAccountId}",
        transfer_bills_notify(),
    );
    let o = plain(
        op(OPS, "healthz", "Liveness"),
        "200",
        "`ok`",
        "text/plain; charset=utf-8",
    );
    p = get(p, "/healthz", o);
    p = get(p, "/readyz", readyz());
    let o = plain(
        op(OPS, "metrics", "Prometheus metrics (text format 0.0.4)"),
        "200",
        "the metrics",
        "text/plain; version=0.0.4",
    );
    p = get(p, "/metrics", o);
    let o = op(OPS, "openapi", "This document (OpenAPI 3.1)").response(
        "200",
        ResponseBuilder::new().description("the document").content(
            "application/json",
            Content::new(Some(any_object("OpenAPI"))),
        ),
    );
    p = get(p, "/openapi.json", o);
    let o = plain(
        op(OPS, "docs", "This document as an HTML page"),
        "200",
        "the page",
        "text/html; charset=utf-8",
    );
    get(p, "/docs", o)
}

use utoipa::openapi::PathItem;

/// SPEC §3's headers, on every signed call.
fn signed(o: OperationBuilder) -> OperationBuilder {
    let o = header_param(o, "businessId", true, "the calling business", text("", 64));
    let o = header_param(
        o,
        "nonce",
        true,
        "1-64 of A-Z a-z 0-9 _ -, used once per business within 15 minutes (40103)",
        pattern("", "^[A-Za-z0-9_-]{1,64}$"),
    );
    let o = header_param(
        o,
        "timestamp",
        true,
        "milliseconds since the epoch, within ±5 minutes of the server's clock (40102)",
        pattern("", "^[0-9]{1,19}$"),
    );
    let o = header_param(
        o,
        "sign",
        true,
        "MD5: uppercase hex of MD5(S + md5Key); SHA256-RSA: base64 of RSASSA-PKCS1-v1_5-SHA256 over S \
         (S = the other headers as name=value sorted and joined with &, then the body's bytes)",
        text("", 1024),
    );
    header_param(
        o,
        "signType",
        false,
        "absent means SHA256-RSA",
        one_of("", &["SHA256-RSA", "MD5"]),
    )
}

fn caller() -> Vec<Field> {
    vec![
        (
            "merchantId",
            true,
            text("the merchant that owns businessId", 64),
        ),
        (
            "businessId",
            true,
            text("must equal the businessId header", 64),
        ),
    ]
}

fn creates() -> Vec<(&'static str, &'static str, &'static str, Vec<Field>)> {
    let biz = || {
        (
            "bizCode",
            true,
            text("the merchant's order number, unique per business", 64),
        )
    };
    let open_id = |req| ("openId", req, text("the user's WeChat openid", 128));
    let app_id = || {
        (
            "appId",
            false,
            text("WeChat appId; absent: the business's default", 32),
        )
    };
    let callback = || {
        (
            "callbackUrl",
            false,
            string(
                "where status reports go (no scheme means https://); absent: the business's default",
            ),
        )
    };
    let mobile = |req| {
        (
            "mobile",
            req,
            pattern("a mainland mobile number", "^1[3-9][0-9]{9}$"),
        )
    };
    let product = || ("productCode", true, text("the product", 64));
    let activity = || ("activityId", true, text("the activity (coupon stock)", 64));
    let with_caller = |rest: Vec<Field>| caller().into_iter().chain(rest).collect::<Vec<_>>();
    vec![
        (
            "/v1/openapi/order/redPacket",
            "createRedPacket",
            "A WeChat cash red packet of `spec` yuan (seed 000)",
            with_caller(vec![
                ("templateId", true, text("the red-packet template", 64)),
                open_id(true),
                (
                    "spec",
                    true,
                    yuan("the red packet's amount, within the template's limits"),
                ),
                biz(),
                mobile(false),
                app_id(),
                callback(),
            ]),
        ),
        (
            "/v1/openapi/order/wechat/coupons",
            "createWechatCoupon",
            "A WeChat 立减金 coupon from the activity's stock (seed 001)",
            with_caller(vec![
                open_id(true),
                product(),
                activity(),
                biz(),
                mobile(false),
                app_id(),
                callback(),
            ]),
        ),
        (
            "/v1/openapi/order/alipay/coupons",
            "createAlipayCoupon",
            "An Alipay 立减金 coupon to the Alipay account of `mobile` (seed 004)",
            with_caller(vec![mobile(true), product(), activity(), biz(), callback()]),
        ),
        (
            "/v1/openapi/order/wechat/transfer",
            "createWechatTransfer",
            "WeChat 零钱: `spec` yuan into the user's WeChat wallet",
            with_caller(vec![
                open_id(true),
                product(),
                ("spec", true, yuan("the amount, at least 0.3")),
                biz(),
                mobile(false),
                app_id(),
                ("description", false, text("the transfer's remark", 100)),
                callback(),
            ]),
        ),
    ]
}

/// An order as `/v1/openapi/order/info` answers it (`views::order_view`).
pub(super) fn order_fields() -> Vec<Field> {
    let s = |about| nullable(Type::String, about);
    vec![
        ("orderCode", true, string("the platform's order code")),
        ("bizCode", true, string("the merchant's order number")),
        ("merchantId", true, string("")),
        ("businessId", true, string("")),
        (
            "productType",
            true,
            one_of(
                "",
                &[
                    "RED_PACKET",
                    "WECHAT_COUPON",
                    "ALIPAY_COUPON",
                    "WECHAT_TRANSFER",
                ],
            ),
        ),
        ("status", true, order_status()),
        ("settlementPrice", true, yuan("what the business pays")),
        (
            "spec",
            true,
            nullable(Type::Number, "the amount in yuan (red packets, transfers)"),
        ),
        ("templateId", true, s("")),
        ("productCode", true, s("")),
        ("activityId", true, s("")),
        ("openId", true, s("")),
        ("mobile", true, s("")),
        ("appId", true, s("")),
        ("createdAt", true, integer("epoch ms")),
        ("finishedAt", true, nullable(Type::Integer, "epoch ms")),
        (
            "errorCode",
            true,
            s("the upstream's error code of a failed order"),
        ),
        ("errorMessage", true, s("")),
        ("upstreamKey", true, s("the idempotency key sent upstream")),
        (
            "upstreamId",
            true,
            s("the upstream's id of the payout or coupon"),
        ),
        (
            "version",
            true,
            integer("grows with each change of the order"),
        ),
        (
            "userConfirm",
            false,
            schema(object(
                [
                    ("mchId", true, string("the WeChat Pay merchant")),
                    ("appId", true, string("the app the user confirms in")),
                    (
                        "package",
                        true,
                        string("WeChat's package_info, for wx.requestMerchantTransfer"),
                    ),
                ],
                false,
            )),
        ),
    ]
}

/// `POST /v1/notify/wechat/transfer-bills/{channelAccountId}` (`crate::wechat_notify`).
fn transfer_bills_notify() -> OperationBuilder {
    use super::{UPSTREAM, wechat_fail};
    let o = OperationBuilder::new()
        .tag(UPSTREAM)
        .operation_id(Some("wechatTransferBillsNotify"))
        .summary(Some(
            "WeChat Pay's MCHTRANSFER.BILL.FINISHED notification for a 商家转账 of this account",
        ));
    let o = path_param(
        o,
        "channelAccountId",
        text("the WECHAT_V3 channel account", 64),
    );
    let o = json_body(
        o,
        "WeChat Pay's signed notification (Wechatpay-Timestamp, -Nonce, -Signature, -Serial headers); \
         `resource` sealed with AEAD_AES_256_GCM under the APIv3 key",
        any_object("the notification"),
        &["application/json"],
    );
    o.response(
        "204",
        utoipa::openapi::ResponseBuilder::new()
            .description("verified and opened: the bill is queried now")
            .build(),
    )
    .response("400", wechat_fail("the body or its resource does not open"))
    .response(
        "401",
        wechat_fail("the signature does not verify (signature probes included)"),
    )
    .response(
        "404",
        wechat_fail("no WECHAT_V3 channel account of that id"),
    )
    .response(
        "413",
        utoipa::openapi::ResponseBuilder::new()
            .description("the body is larger than 2 MiB (axum's limit, answered as text)")
            .content(
                "text/plain; charset=utf-8",
                utoipa::openapi::Content::new(Some(super::string("length limit exceeded"))),
            )
            .build(),
    )
    .response(
        "500",
        wechat_fail("the hint could not be stored: WeChat Pay sends it again"),
    )
}

pub(super) fn order_status() -> RefOr<Schema> {
    one_of(
        "the order's status",
        &["PROCESSING", "SUCCESS", "FAILED", "RECEIVED", "REFUNDED"],
    )
}

fn order_view(null_too: bool) -> ObjectBuilder {
    object(order_fields(), null_too)
}

fn readyz() -> OperationBuilder {
    let o = op(
        OPS,
        "readyz",
        "Readiness: database, migrations, writer, dispatcher, callback sender",
    );
    let ready = |about: &str, code: &str| {
        schema(object(
            [
                ("status", true, one_of(about, &[code])),
                ("reasons", false, list(string(""), "why not")),
            ],
            false,
        ))
    };
    o.response(
        "200",
        ResponseBuilder::new()
            .description("ready")
            .content("application/json", Content::new(Some(ready("", "ready")))),
    )
    .response(
        "503",
        ResponseBuilder::new()
            .description("not ready, with the reasons")
            .content(
                "application/json",
                Content::new(Some(ready("", "not ready"))),
            ),
    )
}
