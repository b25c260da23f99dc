//! What an upstream call means for an order, whatever the upstream: the one vocabulary the
//! delivery decision (`delivery::decide`) acts on. Each upstream module of `rewardgate-channels`
//! maps its own codes to it in one table.

/// The result of one send or query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reward was granted; `upstream_id` is the upstream's identifier (send_listid,
    /// payment_no, coupon_id, voucher_id).
    Granted {
        upstream_id: String,
        extra: Option<String>,
    },
    /// Definitively not granted and never will be with this key: the order fails.
    Failed {
        code: String,
        message: String,
    },
    /// Nobody knows (timeout, SYSTEMERROR, an answer that does not verify): ask again or resend
    /// with the same key, never a new one.
    Unknown {
        reason: String,
    },
    /// Not now: try again later with the same key.
    Deferred {
        code: String,
        message: String,
        wait: Wait,
    },
    /// The upstream has the request and is still working on it (WeChat v2 `PROCESSING`, a
    /// red packet `SENDING`, a transfer `PROCESSING`): ask again with the same key, in minutes.
    Pending {
        code: String,
        message: String,
    },
    /// The upstream has it and waits for the user to confirm (a 商家转账 `WAIT_USER_CONFIRM`
    /// create answer, with its `package_info`): the merchant's app must show it to the user.
    AwaitingUser {
        confirm: crate::order::UserConfirm,
    },
    /// Only from queries: the upstream has no record of this key, so nothing was granted yet and
    /// sending with the same key is safe.
    NotFound,
    /// Only from red-packet queries: the user opened it, or it went back after 24 hours.
    Received {
        upstream_id: String,
    },
    Refunded {
        upstream_id: String,
    },
}

/// How long a deferred order waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Until 08:00 Asia/Shanghai (WeChat red packets are not sent 00:00–08:00).
    ShanghaiMorning,
    /// The channel account itself cannot pay (its balance is exhausted): pause it and alert; its
    /// orders wait.
    PauseAccount,
    /// The account's credentials or rights were refused (a signature, a certificate, a
    /// permission). That may be the account's — or this one order's doing (its content broke the
    /// signature or the path): a known-good request of the account's decides which, before the
    /// account is paused for everyone.
    Credentials,
    /// A rate limit: back off a little.
    Backoff,
    /// A daily cap of the channel account (WeChat `SENDAMOUNT_LIMIT`): the next day in
    /// Asia/Shanghai.
    NextShanghaiDay,
}

/// Classes of an upstream error code, as the policy tables write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Definitive,
    Unknown,
    Pending,
    Deferred(Wait),
}

impl Outcome {
    pub fn from_class(class: Class, code: &str, message: &str) -> Outcome {
        match class {
            Class::Definitive => Outcome::Failed {
                code: code.into(),
                message: message.into(),
            },
            Class::Unknown => Outcome::Unknown {
                reason: format!("{code}: {message}"),
            },
            Class::Pending => Outcome::Pending {
                code: code.into(),
                message: message.into(),
            },
            Class::Deferred(wait) => Outcome::Deferred {
                code: code.into(),
                message: message.into(),
                wait,
            },
        }
    }
}

/// What a known-good request of the account's says about its credentials, after one order's
/// request was refused for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The same refusal: the account's credentials or rights are at fault.
    Reproduced(String),
    /// The account's credentials work: the refusal was the order's own doing.
    Healthy,
    /// No answer that tells (a timeout, an unreadable answer).
    Unclear(String),
}

impl Probe {
    /// From the outcome of the probing call.
    pub fn from_outcome(o: &Outcome) -> Probe {
        match o {
            Outcome::Deferred {
                wait: Wait::Credentials,
                code,
                message,
            } => Probe::Reproduced(format!("{code}: {message}")),
            Outcome::Unknown { reason } => Probe::Unclear(reason.clone()),
            _ => Probe::Healthy,
        }
    }
}

impl Outcome {
    /// A short label and the detail an operator sees in the order's attempts.
    pub fn describe(&self) -> (&'static str, Option<String>) {
        match self {
            Outcome::Granted { upstream_id, .. } => ("GRANTED", Some(upstream_id.clone())),
            Outcome::Failed { code, message } => ("FAILED", Some(format!("{code}: {message}"))),
            Outcome::Unknown { reason } => ("UNKNOWN", Some(reason.clone())),
            Outcome::Deferred { code, message, .. } => {
                ("DEFERRED", Some(format!("{code}: {message}")))
            }
            Outcome::Pending { code, message } => ("PENDING", Some(format!("{code}: {message}"))),
            Outcome::AwaitingUser { .. } => ("AWAITING_USER", Some("WAIT_USER_CONFIRM".into())),
            Outcome::NotFound => ("NOT_FOUND", None),
            Outcome::Received { upstream_id } => ("RECEIVED", Some(upstream_id.clone())),
            Outcome::Refunded { upstream_id } => ("REFUNDED", Some(upstream_id.clone())),
        }
    }
}
