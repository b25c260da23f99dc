//! The admin API's catalogue kinds (SPEC §8): each PUT body as `rewardgate_core::catalog`
//! parses it, and the masked object its GET and PUT answer.

use super::*;

const ID: &str = "^[A-Za-z0-9_.-]{1,64}$";

pub(super) fn id() -> RefOr<Schema> {
    pattern("1-64 of A-Z a-z 0-9 _ - .", ID)
}

/// A catalogue kind: its path, its words, its PUT body and its masked answer.
pub(super) struct Kind {
    pub path: &'static str,
    pub name: &'static str,
    pub what: &'static str,
    pub put: Vec<Field>,
    pub view: Vec<Field>,
}

pub(super) fn kinds() -> Vec<Kind> {
    let s = string;
    let t = |about| schema(typed(Type::String, about).min_length(Some(1)));
    let sized = |about, min, max| {
        schema(
            typed(Type::String, about)
                .min_length(Some(min))
                .max_length(Some(max)),
        )
    };
    let url = || s("http(s) URL");
    let masked = |about: &'static str| (about, false, s("masked"));
    let fee = || {
        (
            "feeRateBp",
            false,
            schema(
                typed(Type::Integer, "fee in basis points, 0-10000 (default 0)")
                    .minimum(Some(0))
                    .maximum(Some(10_000)),
            ),
        )
    };
    let key = || {
        object(
            [("serialNo", true, t("")), ("publicKeyPem", true, t("PEM"))],
            false,
        )
    };
    vec![
        Kind {
            path: "/channel-accounts/{id}",
            name: "ChannelAccount",
            what: "channel account (the operator's credentials for one upstream)",
            put: vec![
                (
                    "kind",
                    true,
                    one_of("", &["WECHAT_V2", "WECHAT_V3", "ALIPAY"]),
                ),
                ("appId", true, text("", 32)),
                (
                    "mchId",
                    false,
                    pattern("WECHAT_V2, WECHAT_V3 (required there)", "^[0-9]{1,32}$"),
                ),
                (
                    "apiKey",
                    false,
                    sized("WECHAT_V2 (required there): the API key", 32, 32),
                ),
                (
                    "signType",
                    false,
                    one_of("WECHAT_V2 (default MD5)", &["MD5", "HMAC-SHA256"]),
                ),
                (
                    "certPem",
                    false,
                    t("WECHAT_V2: client certificate PEM (with keyPem)"),
                ),
                (
                    "keyPem",
                    false,
                    t("WECHAT_V2: client key PEM (with certPem)"),
                ),
                (
                    "privateKeyPem",
                    false,
                    t("WECHAT_V3, ALIPAY (required there)"),
                ),
                ("certSerialNo", false, t("WECHAT_V3 (required there)")),
                (
                    "apiV3Key",
                    false,
                    sized("WECHAT_V3 (required there): the APIv3 key", 32, 32),
                ),
                (
                    "platformPublicKeyPem",
                    false,
                    t("WECHAT_V3 (required there)"),
                ),
                ("platformSerialNo", false, t("WECHAT_V3 (required there)")),
                (
                    "platformKeys",
                    false,
                    list(schema(key()), "WECHAT_V3: more verifiers, by serial"),
                ),
                ("alipayPublicKeyPem", false, t("ALIPAY (required there)")),
                ("baseUrl", false, s("absent: the real upstream host")),
                (
                    "ratePerMinute",
                    false,
                    schema(
                        typed(
                            Type::Integer,
                            "upstream sends a minute (WECHAT_V2 default 1800)",
                        )
                        .minimum(Some(1)),
                    ),
                ),
            ],
            view: vec![
                ("id", true, s("")),
                ("kind", true, s("")),
                ("mchId", false, s("")),
                ("appId", true, s("")),
                masked("apiKey"),
                ("signType", false, s("")),
                ("certPem", false, s("")),
                masked("keyPem"),
                masked("privateKeyPem"),
                ("certSerialNo", false, s("")),
                masked("apiV3Key"),
                ("platformPublicKeyPem", false, s("")),
                ("platformSerialNo", false, s("")),
                ("platformKeys", false, list(schema(key()), "")),
                ("alipayPublicKeyPem", false, s("")),
                ("baseUrl", false, s("")),
                ("ratePerMinute", false, integer("")),
            ],
        },
        Kind {
            path: "/templates/{id}",
            name: "Template",
            what: "red-packet template",
            put: vec![
                (
                    "channelAccountId",
                    true,
                    text("a WECHAT_V2 account signing with MD5", 64),
                ),
                ("sendName", true, text("at most 32 bytes of UTF-8", 32)),
                ("wishing", true, text("at most 128 bytes of UTF-8", 128)),
                ("actName", true, text("at most 32 bytes of UTF-8", 32)),
                ("remark", true, text("at most 256 bytes of UTF-8", 256)),
                (
                    "sceneId",
                    false,
                    one_of(
                        "required when minSpec < 1 or maxSpec > 200",
                        &crate_scene_ids(),
                    ),
                ),
                (
                    "minSpec",
                    false,
                    yuan("smallest red packet, at least 0.3 (default 1)"),
                ),
                (
                    "maxSpec",
                    false,
                    yuan("largest red packet, at most 4999 (default 200)"),
                ),
                fee(),
            ],
            view: vec![
                ("id", true, s("")),
                ("channelAccountId", true, s("")),
                ("sendName", true, s("")),
                ("wishing", true, s("")),
                ("actName", true, s("")),
                ("remark", true, s("")),
                ("sceneId", false, s("")),
                ("minSpec", true, yuan("")),
                ("maxSpec", true, yuan("")),
                ("feeRateBp", true, integer("")),
            ],
        },
        Kind {
            path: "/products/{id}",
            name: "Product",
            what: "product (coupon or transfer)",
            put: vec![
                (
                    "kind",
                    true,
                    one_of("", &["WECHAT_COUPON", "ALIPAY_COUPON", "WECHAT_TRANSFER"]),
                ),
                ("name", true, text("", 64)),
                ("faceValue", false, yuan("the coupon's face value")),
                (
                    "price",
                    false,
                    yuan("coupons (required there): the fixed settlement price"),
                ),
                fee(),
                (
                    "channelAccountId",
                    false,
                    text(
                        "WECHAT_TRANSFER (required there): a WECHAT_V2 account signing with MD5 \
                         (promotion/transfers) or a WECHAT_V3 account (商家转账, the user confirms)",
                        64,
                    ),
                ),
            ],
            view: vec![
                ("code", true, s("")),
                ("kind", true, s("")),
                ("name", true, s("")),
                ("faceValue", false, yuan("")),
                ("price", false, yuan("")),
                ("feeRateBp", false, integer("")),
                ("channelAccountId", false, s("")),
            ],
        },
        Kind {
            path: "/activities/{id}",
            name: "Activity",
            what: "activity (a coupon stock)",
            put: vec![
                ("productCode", true, text("a coupon product", 64)),
                (
                    "channelAccountId",
                    true,
                    text("WECHAT_V3 for WeChat coupons, ALIPAY for Alipay's", 64),
                ),
                (
                    "upstreamId",
                    true,
                    text("WeChat stock_id / Alipay activity id", 128),
                ),
                ("startsAt", false, s("RFC 3339")),
                ("endsAt", false, s("RFC 3339, after startsAt")),
            ],
            view: vec![
                ("id", true, s("")),
                ("productCode", true, s("")),
                ("channelAccountId", true, s("")),
                ("upstreamId", true, s("")),
                ("startsAt", false, integer("epoch ms")),
                ("endsAt", false, integer("epoch ms")),
            ],
        },
        Kind {
            path: "/merchants/{id}",
            name: "Merchant",
            what: "merchant",
            put: vec![("name", true, text("", 128))],
            view: vec![("id", true, s("")), ("name", true, s(""))],
        },
        Kind {
            path: "/businesses/{id}",
            name: "Business",
            what: "business (balance, credentials, scope)",
            put: vec![
                ("merchantId", true, text("an existing merchant", 64)),
                ("name", true, text("", 128)),
                (
                    "md5Key",
                    false,
                    sized("this or rsaPublicKeyPem is required", 16, 128),
                ),
                ("rsaPublicKeyPem", false, t("PEM, at least 2048 bits")),
                ("callbackUrl", false, url()),
                ("defaultAppId", false, s("")),
                (
                    "creditLine",
                    false,
                    yuan("how far below zero the balance may go (default 0)"),
                ),
                (
                    "ipAllowlist",
                    false,
                    list(s("an IP or CIDR"), "absent: any"),
                ),
                ("enabled", false, boolean("default true")),
                (
                    "requestsPerSecond",
                    false,
                    schema(
                        typed(Type::Integer, "absent: no limit")
                            .minimum(Some(1))
                            .maximum(Some(1_000_000)),
                    ),
                ),
                ("templateIds", false, list(id(), "absent: all")),
                ("activityIds", false, list(id(), "absent: all")),
                (
                    "appIds",
                    false,
                    list(id(), "absent: only defaultAppId or the channel account's"),
                ),
            ],
            view: vec![
                ("id", true, s("")),
                ("merchantId", true, s("")),
                ("name", true, s("")),
                masked("md5Key"),
                ("rsaPublicKeyPem", false, s("")),
                ("callbackUrl", false, s("")),
                ("defaultAppId", false, s("")),
                ("creditLine", true, yuan("")),
                ("ipAllowlist", false, list(s(""), "")),
                ("enabled", true, boolean("")),
                ("requestsPerSecond", false, integer("")),
                ("templateIds", false, list(s(""), "")),
                ("activityIds", false, list(s(""), "")),
                ("appIds", false, list(s(""), "")),
            ],
        },
        Kind {
            path: "/rabbitpre-integrations/{id}",
            name: "RabbitpreIntegration",
            what: "Rabbitpre integration",
            put: vec![
                (
                    "apiSecretKey",
                    true,
                    sized("what Rabbitpre sends", 16, 1024),
                ),
                ("businessId", true, text("the business that pays", 64)),
                (
                    "channelAccountId",
                    true,
                    text("a WECHAT_V2 account signing with MD5", 64),
                ),
                (
                    "openidMapping",
                    false,
                    one_of("default DIRECT", &["DIRECT", "MAPPED"]),
                ),
                ("templateId", false, text("fee and default texts", 64)),
                ("sendName", false, text("at most 32 bytes of UTF-8", 32)),
                ("wishing", false, text("at most 128 bytes of UTF-8", 128)),
            ],
            view: vec![
                ("id", true, s("")),
                masked("apiSecretKey"),
                ("businessId", true, s("")),
                ("channelAccountId", true, s("")),
                ("openidMapping", true, s("")),
                ("templateId", false, s("")),
                ("sendName", true, s("")),
                ("wishing", true, s("")),
            ],
        },
    ]
}

fn crate_scene_ids() -> Vec<&'static str> {
    rewardgate_core::catalog::SCENE_IDS.to_vec()
}
