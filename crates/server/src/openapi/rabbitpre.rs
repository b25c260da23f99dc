//! `POST /pay/sendApiRedPack` (SPEC §6, `crate::rabbitpre`): the seed's request fields as the
//! handler reads them, and its answer fields.

use super::*;
use utoipa::openapi::path::OperationBuilder;

/// `POST /pay/sendApiRedPack` (SPEC §6): the seed's fields in and out, not the envelope.
pub(super) fn operation() -> OperationBuilder {
    let req: Vec<Field> = vec![
        (
            "apiSecretKey",
            true,
            text("the integration's secret (never logged nor stored)", 1024),
        ),
        (
            "mchId",
            true,
            text(
                "the WeChat Pay merchant id of the integration's channel account",
                32,
            ),
        ),
        (
            "wxAppId",
            true,
            text("the appId of the integration's channel account", 32),
        ),
        (
            "mchBillno",
            true,
            pattern(
                "the red packet's number: the same one never pays twice",
                "^[A-Za-z0-9]{1,32}$",
            ),
        ),
        (
            "openid",
            true,
            text(
                "the customer's Rabbitpre user_id (mapped to a WeChat openid when the integration says so)",
                128,
            ),
        ),
        (
            "amount",
            true,
            schema(typed(Type::Integer, "fen, 100-20000").minimum(Some(1))),
        ),
        ("clientIp", false, string("the caller's public IP")),
        ("actName", false, string("activity name (default 红包)")),
        ("remark", false, string("remark (default 红包)")),
        (
            "notifyWay",
            false,
            string("MINI_PROGRAM_JSAPI for a mini-program red packet"),
        ),
        (
            "tradeRecordId",
            false,
            integer("Rabbitpre's own trade record id"),
        ),
        (
            "privateKey",
            false,
            string("a seed field: accepted, never read, logged nor stored"),
        ),
        (
            "certKey",
            false,
            string("a seed field: accepted, never read, logged nor stored"),
        ),
    ];
    let s = |about| string(about);
    let answer = object(
        [
            (
                "returnCode",
                true,
                one_of("FAIL: the request itself was refused", &["SUCCESS", "FAIL"]),
            ),
            ("returnMsg", true, s("")),
            ("resultCode", false, one_of("", &["SUCCESS", "FAIL"])),
            (
                "errCode",
                false,
                s(
                    "SUCCESS, or WeChat's error code (NOTENOUGH, FREQ_LIMIT, SYSTEMERROR: retry with the same mchBillno, …)",
                ),
            ),
            ("errCodeDes", false, s("")),
            ("mchBillno", false, s("")),
            ("mchId", false, s("")),
            ("wxappid", false, s("")),
            ("reOpenid", false, s("the WeChat openid paid")),
            ("totalAmount", false, s("fen, as text")),
            (
                "sendListid",
                false,
                nullable(Type::String, "WeChat's red-packet id"),
            ),
        ],
        false,
    );
    let o = op(
        RABBITPRE,
        "sendApiRedPack",
        "A Rabbitpre (兔展) red packet, answered synchronously",
    );
    let o = json_body(
        o,
        "the seed's request (application/json or the seed's application/jsonxml)",
        schema(object(req, false)),
        &["application/json", "application/jsonxml"],
    );
    o.response(
        "200",
        ResponseBuilder::new()
            .description("the outcome in the seed's fields")
            .content("application/json", Content::new(Some(schema(answer)))),
    )
}
