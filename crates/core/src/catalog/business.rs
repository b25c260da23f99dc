//! Merchants, their businesses (balance, credentials, scope) and top-ups.

use super::*;
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub id: String,
    pub name: String,
}

impl Merchant {
    pub fn from_admin(id: &str, o: &JsonObject<'_>) -> Result<Merchant, ApiError> {
        id_ok("merchantId", id)?;
        let m = Merchant {
            id: id.to_string(),
            name: o.req_str("name")?,
        };
        max_len("name", &m.name, 128)?;
        Ok(m)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub md5_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_public_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_app_id: Option<String>,
    pub credit_line: Fen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Open-API requests a second this business may make (absent: no limit); beyond, 42901.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<i64>,
    /// What this business may order (SPEC §8): absent, all; present, only these (else 40401).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_ids: Option<Vec<String>>,
    /// The WeChat appIds its orders may name; absent: only `default_app_id` or the channel
    /// account's (another is 40001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_ids: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// An optional list of catalogue ids (`templateIds`, `activityIds`, `appIds`).
fn id_list(o: &JsonObject<'_>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = o.opt_str_list(field)? else {
        return Ok(None);
    };
    for id in &list {
        id_ok(field, id)?;
    }
    Ok(Some(list))
}

impl Business {
    pub fn from_admin(
        id: &str,
        o: &JsonObject<'_>,
        merchant_exists: bool,
    ) -> Result<Business, ApiError> {
        id_ok("businessId", id)?;
        let merchant_id = o.req_str("merchantId")?;
        if !merchant_exists {
            return Err(ApiError::not_found(format!(
                "merchantId {merchant_id} not found"
            )));
        }
        let md5_key = o.opt_str("md5Key")?;
        if let Some(k) = &md5_key
            && (k.len() < 16 || k.len() > 128)
        {
            return Err(ApiError::field("md5Key", "must be 16-128 characters"));
        }
        let rsa = o.opt_str("rsaPublicKeyPem")?;
        if let Some(p) = &rsa {
            RsaPublicKey::from_pem(p).map_err(|e| ApiError::field("rsaPublicKeyPem", e))?;
        }
        if md5_key.is_none() && rsa.is_none() {
            return Err(ApiError::field("md5Key", "or rsaPublicKeyPem is required"));
        }
        let credit_line = o.opt_nonneg_money("creditLine")?.unwrap_or(Fen::ZERO);
        let ip_allowlist = match o.opt_str_list("ipAllowlist")? {
            None => None,
            Some(list) => {
                for ip in &list {
                    parse_ip_rule(ip).ok_or_else(|| {
                        ApiError::field(
                            "ipAllowlist",
                            format_args!("has an entry that is not an IP or CIDR: {ip}"),
                        )
                    })?;
                }
                Some(list)
            }
        };
        let b = Business {
            id: id.to_string(),
            merchant_id,
            name: o.req_str("name")?,
            md5_key: md5_key.map(Secret::new),
            rsa_public_key_pem: rsa,
            callback_url: opt_url(o, "callbackUrl")?,
            default_app_id: o.opt_str("defaultAppId")?,
            credit_line,
            ip_allowlist,
            enabled: o.opt_bool("enabled")?.unwrap_or(true),
            requests_per_second: o.opt_i64("requestsPerSecond")?,
            template_ids: id_list(o, "templateIds")?,
            activity_ids: id_list(o, "activityIds")?,
            app_ids: id_list(o, "appIds")?,
        };
        if b.requests_per_second
            .is_some_and(|r| !(1..=1_000_000).contains(&r))
        {
            return Err(ApiError::field("requestsPerSecond", "must be 1-1000000"));
        }
        max_len("name", &b.name, 128)?;
        Ok(b)
    }

    /// Whether this business may order from template `id` (no list: any).
    pub fn allows_template(&self, id: &str) -> bool {
        self.template_ids
            .as_ref()
            .is_none_or(|l| l.iter().any(|t| t == id))
    }

    /// Whether this business may order from activity `id` (no list: any).
    pub fn allows_activity(&self, id: &str) -> bool {
        self.activity_ids
            .as_ref()
            .is_none_or(|l| l.iter().any(|a| a == id))
    }

    /// The WeChat appId an order goes out with: the one it names, if this business may name it,
    /// else the business's default, else the channel account's.
    pub fn app_id_for(
        &self,
        named: Option<&str>,
        channel_app_id: &str,
    ) -> Result<String, ApiError> {
        let fallback = || {
            self.default_app_id
                .clone()
                .unwrap_or_else(|| channel_app_id.to_string())
        };
        let Some(a) = named else {
            return Ok(fallback());
        };
        let allowed = match &self.app_ids {
            Some(list) => list.iter().any(|x| x == a),
            None => a == fallback() || a == channel_app_id,
        };
        if allowed {
            Ok(a.to_string())
        } else {
            Err(ApiError::field(
                "appId",
                format_args!("{a} is not an appId this business may use"),
            ))
        }
    }

    /// Whether `ip` may call for this business (no list: any).
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match &self.ip_allowlist {
            None => true,
            Some(list) => list
                .iter()
                .filter_map(|r| parse_ip_rule(r))
                .any(|net| net.contains(&ip)),
        }
    }
}

fn parse_ip_rule(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// A top-up (SPEC §8): `amount` in yuan and an idempotency `reference`.
pub struct Topup {
    pub amount: Fen,
    pub reference: String,
}

impl Topup {
    pub fn from_admin(o: &JsonObject<'_>) -> Result<Topup, ApiError> {
        let t = Topup {
            amount: o.req_money("amount")?,
            reference: o.req_str("reference")?,
        };
        max_len("reference", &t.reference, 128)?;
        Ok(t)
    }
}
