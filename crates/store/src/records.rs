//! What the store takes and hands back, typed (the domain's own types — `Order`, `NewOrder`,
//! `Change`, `Next` — come from `rewardgate-core`).

use rewardgate_core::Fen;
use rewardgate_core::delivery::JobState;
use rewardgate_core::delivery::{Job, Step};
use rewardgate_core::ids::BusinessId;
use rewardgate_core::order::{Order, OrderStatus, PostingKind, ProductType};
use rewardgate_core::report::ReportState;
use rewardgate_core::upstream::UpstreamRequest;

/// A business's money, from its ledger accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// What can still be spent: top-ups minus captured minus held.
    pub available: Fen,
    /// What orders in flight hold.
    pub held: Fen,
    pub spent: Fen,
    pub credit_line: Fen,
}

/// The whole ledger checked: the sum of every balance (must be zero) and the accounts whose
/// balance column disagrees with the sum of their postings (must be none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerCheck {
    pub sum: i64,
    pub postings: i64,
    pub mismatched_accounts: Vec<String>,
}

/// A signed request's nonce, to be used once.
#[derive(Clone, Debug)]
pub struct NonceUse {
    pub business_id: BusinessId,
    pub nonce: String,
    pub now: i64,
}

#[derive(Clone, Debug)]
pub enum AcceptOutcome {
    Created(Order),
    /// The same bizCode with the same request: the first order.
    Existing(Order),
    /// The same bizCode with another request.
    Conflict,
    NonceReplay,
    Insufficient,
    /// Over the business's requests-per-second limit: nothing was written.
    TooManyRequests,
}

/// Whether a signed read may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Yes,
    NonceReplay,
    TooManyRequests,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopupOutcome {
    Applied(Balance),
    /// The reference was used before with the same amount: nothing changed.
    AlreadyApplied(Balance),
    /// The reference was used before with another amount.
    Conflict,
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub merchant_id: Option<String>,
    pub business_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub limit: i64,
    /// Orders with a smaller id than this (newest first).
    pub before_id: Option<i64>,
    pub product_type: Option<ProductType>,
    /// Orders whose delivery job is in this state (e.g. STUCK: an operator must look).
    pub job_state: Option<JobState>,
    /// Created at or after (epoch ms).
    pub created_from: Option<i64>,
    /// Created before (epoch ms).
    pub created_before: Option<i64>,
    /// An orderCode or a bizCode.
    pub code: Option<String>,
}

/// One ledger posting of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PostingRecord {
    pub kind: PostingKind,
    pub amount: Fen,
    pub at: i64,
}

/// One recorded delivery attempt of an order.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub step: Step,
    pub outcome: String,
    pub detail: Option<String>,
    pub latency_ms: i64,
    pub worker: String,
    pub at: i64,
}

/// A status report (SPEC §5) of an order, with its delivery state.
#[derive(Clone, Debug)]
pub struct ReportRecord {
    pub notify_id: String,
    pub order_id: i64,
    pub version: i64,
    pub target: String,
    pub body: String,
    pub state: ReportState,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// One delivery attempt of a report, as recorded.
#[derive(Clone, Debug)]
pub struct ReportAttempt {
    pub at: i64,
    pub http_status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// An order with everything an operator looks at.
#[derive(Clone, Debug)]
pub struct OrderDetail {
    pub order: Order,
    pub postings: Vec<PostingRecord>,
    pub attempts: Vec<AttemptRecord>,
    pub reports: Vec<(ReportRecord, Vec<ReportAttempt>)>,
}

/// What one claim took, and the channel accounts it passed over because their rate bucket was
/// empty (their due jobs wait for a later claim).
#[derive(Clone, Debug, Default)]
pub struct Claims {
    pub jobs: Vec<Claimed>,
    pub rate_limited: Vec<String>,
}

/// What `/metrics` reads from the database: the same for every process on it.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// (product type, status, orders).
    pub orders: Vec<(String, String, i64)>,
    pub jobs: Vec<(JobState, i64)>,
    /// When the oldest job still to deliver (READY or IN_FLIGHT) was created (epoch ms).
    pub oldest_open_job: Option<i64>,
    pub reports: Vec<(ReportState, i64)>,
    /// When the oldest report still to deliver (PENDING or SENDING) was created (epoch ms).
    pub oldest_open_report: Option<i64>,
}

/// A job this worker holds the lease of.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub order: Order,
    pub job: Job,
    pub upstream_key: String,
    /// The upstream request frozen at the first send.
    pub request: Option<UpstreamRequest>,
    /// This claim's lease token: only it may record the attempt.
    pub lease: String,
}

/// One delivery attempt's record, for operators.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The process that made it.
    pub worker: String,
    pub step: Step,
    pub outcome: String,
    pub detail: Option<String>,
    pub latency_ms: i64,
}

/// A report to send, with what signing it needs.
#[derive(Clone, Debug)]
pub struct DueReport {
    pub notify_id: String,
    pub order_id: i64,
    pub business_id: BusinessId,
    pub target: String,
    pub host: String,
    pub body: String,
    pub attempts: i64,
    /// This claim's lease token: only it may record the attempt.
    pub lease: String,
}

/// One report delivery attempt's result.
#[derive(Clone, Debug)]
pub struct Attempted {
    pub http_status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub delivered: bool,
}

/// What a claim of reports asks for.
#[derive(Clone, Debug)]
pub struct ReportClaim {
    pub worker: String,
    pub now: i64,
    pub lease_until: i64,
    /// Reports at most, in all.
    pub limit: i64,
    /// Reports held per host in this process, and how many one host may hold at once.
    pub busy: std::collections::HashMap<String, i64>,
    pub per_host: i64,
    /// Which host's share comes first.
    pub rotation: usize,
}

/// An operator's console session: the hash of its cookie's id, its CSRF token and the
/// fingerprint of the admin token it logged in with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub csrf: String,
    pub token_fingerprint: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Orders of one channel account and product type over the dashboard's windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelCount {
    pub channel_account_id: String,
    pub product_type: ProductType,
    /// Created in the last hour.
    pub hour: i64,
    /// Created in the last day, and of those how many ended well or not.
    pub day: i64,
    pub succeeded: i64,
    pub failed: i64,
}

/// A channel account paused by the dispatcher (its orders wait).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseRecord {
    pub channel_account_id: String,
    pub until: i64,
    pub reason: String,
    pub since: i64,
}

/// A channel account whose attempts of the last hour had unknown or deferred outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trouble {
    pub channel_account_id: String,
    pub unknown: i64,
    pub deferred: i64,
    pub last_at: i64,
    pub last_detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowBalance {
    pub business_id: String,
    pub available: Fen,
    pub credit_line: Fen,
}

/// The console's dashboard, from one snapshot at `now`.
#[derive(Clone, Debug, Default)]
pub struct Dashboard {
    pub now: i64,
    /// (status, created in the last hour, in the last day).
    pub by_status: Vec<(OrderStatus, i64, i64)>,
    pub by_channel: Vec<ChannelCount>,
    /// Orders created in each of the last 60 minutes, oldest first.
    pub per_minute: Vec<i64>,
    pub pauses: Vec<PauseRecord>,
    pub troubled: Vec<Trouble>,
    pub low_balance: Vec<LowBalance>,
    pub reports: Vec<(ReportState, i64)>,
    pub oldest_open_report: Option<i64>,
}
