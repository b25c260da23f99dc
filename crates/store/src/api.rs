//! The typed operations `serve` and the admin commands call: each is one read snapshot or one
//! group-committed write, built from the statements in `sql`.

use crate::*;
use rewardgate_core::Fen;
use rewardgate_core::delivery::{Change, JobState, Next};
use rewardgate_core::order::{NewOrder, Order};
use rewardgate_core::upstream::UpstreamRequest;

impl Store {
    // ---- intake --------------------------------------------------------------------------------

    /// Takes an order in: the business's request bucket, the nonce, the order with its hold and
    /// delivery job — all or nothing.
    pub async fn accept(
        &self,
        nonce: NonceUse,
        order: NewOrder,
    ) -> Result<AcceptOutcome, StoreError> {
        self.writer.accept(nonce, order).await
    }

    /// The business's request limit, then the nonce (signed reads).
    pub async fn admit(&self, nonce: NonceUse) -> Result<Admit, StoreError> {
        let key = nonce.business_id.to_string();
        self.write_for(&key, move |db| sql::intake::admit(db, &nonce))
            .await
    }

    /// Deletes expired nonces; how many.
    pub async fn purge_nonces(&self, now: i64) -> Result<u64, StoreError> {
        self.write(move |db| sql::intake::purge_nonces(db, now))
            .await
    }

    // ---- catalogue and settings ----------------------------------------------------------------

    pub async fn get_catalog(
        &self,
        kind: &'static str,
        id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |db| sql::catalog::get(db, kind, &id)).await
    }

    /// The catalogue's version (moves with every catalogue write, on any instance).
    pub async fn catalog_version(&self) -> Result<i64, StoreError> {
        self.read(sql::catalog::version).await
    }

    pub async fn list_catalog(&self, kind: &'static str) -> Result<Vec<String>, StoreError> {
        self.read(move |db| sql::catalog::list(db, kind)).await
    }

    /// Creates or replaces a catalogue object (its stored JSON).
    pub async fn put_catalog(
        &self,
        kind: &'static str,
        id: String,
        data: String,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| sql::catalog::put(db, kind, &id, &data, now))
            .await
    }

    /// A channel account and its rate bucket, together (the bucket exists before the account's
    /// first order can be sent).
    pub async fn put_channel_account(
        &self,
        id: String,
        data: String,
        rate: Option<Rate>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| {
            sql::catalog::put(db, "channel_account", &id, &data, now)?;
            sql::buckets::set(db, &id, rate, now)
        })
        .await
    }

    /// A business, its ledger accounts and credit line, and its request bucket, together.
    pub async fn put_business(
        &self,
        id: String,
        data: String,
        credit_line: Fen,
        rate: Option<Rate>,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = id.clone();
        self.write_for(&key, move |db| {
            sql::catalog::put(db, "business", &id, &data, now)?;
            sql::ledger::ensure_accounts(db, &id, credit_line)?;
            sql::buckets::set(db, &rewardgate_core::rate::business_bucket(&id), rate, now)
        })
        .await
    }

    /// Keeps channel accounts' buckets in line with their configuration.
    pub async fn set_rates(
        &self,
        rates: Vec<(String, Option<Rate>)>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| {
            for (id, rate) in &rates {
                sql::buckets::set(db, id, *rate, now)?;
            }
            Ok(())
        })
        .await
    }

    /// Sets a setting only if it is not set yet; the value in force.
    pub async fn init_setting(
        &self,
        key: &'static str,
        value: String,
    ) -> Result<String, StoreError> {
        self.write(move |db| sql::catalog::init_setting(db, key, &value))
            .await
    }

    pub async fn put_openid_mappings(
        &self,
        integration_id: String,
        pairs: Vec<(String, String)>,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.write(move |db| sql::catalog::put_openid_mappings(db, &integration_id, &pairs, now))
            .await
    }

    pub async fn openid_mapping(
        &self,
        integration_id: String,
        user_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |db| sql::catalog::openid_mapping(db, &integration_id, &user_id))
            .await
    }

    // ---- orders and money ----------------------------------------------------------------------

    pub async fn order_by_biz_code(
        &self,
        business_id: String,
        biz_code: String,
    ) -> Result<Option<Order>, StoreError> {
        self.read(move |db| sql::orders::by_biz_code(db, &business_id, &biz_code))
            .await
    }

    pub async fn order_by_code(&self, order_code: String) -> Result<Option<Order>, StoreError> {
        self.read(move |db| sql::orders::by_code(db, &order_code))
            .await
    }

    pub async fn list_orders(&self, filter: OrderFilter) -> Result<Vec<Order>, StoreError> {
        self.read(move |db| sql::orders::list(db, &filter)).await
    }

    /// An order with its postings, attempts and reports (with theirs), in one snapshot.
    pub async fn order_detail(
        &self,
        order_code: String,
    ) -> Result<Option<OrderDetail>, StoreError> {
        self.read(move |db| {
            let Some(order) = sql::orders::by_code(db, &order_code)? else {
                return Ok(None);
            };
            let postings = sql::orders::postings(db, order.id)?;
            let attempts = sql::jobs::attempts(db, order.id)?;
            let mut reports = Vec::new();
            for r in sql::reports::of_order(db, order.id)? {
                let a = sql::reports::attempts(db, &r.notify_id)?;
                reports.push((r, a));
            }
            Ok(Some(OrderDetail {
                order,
                postings,
                attempts,
                reports,
            }))
        })
        .await
    }

    /// Every business's balance, in one read (the console's list).
    pub async fn all_balances(&self) -> Result<Vec<(String, Balance)>, StoreError> {
        self.read(sql::ledger::all_balances).await
    }

    pub async fn balance(&self, business_id: String) -> Result<Option<Balance>, StoreError> {
        self.read(move |db| sql::ledger::balance(db, &business_id))
            .await
    }

    pub async fn topup(
        &self,
        business_id: String,
        amount: Fen,
        reference: String,
        now: i64,
    ) -> Result<TopupOutcome, StoreError> {
        let key = business_id.clone();
        self.write_for(&key, move |db| {
            sql::ledger::topup(db, &business_id, amount, &reference, now)
        })
        .await
    }

    pub async fn ledger_check(&self) -> Result<LedgerCheck, StoreError> {
        self.read(sql::ledger::check).await
    }

    // ---- delivery jobs -------------------------------------------------------------------------

    /// Claims due jobs fairly across channel accounts (see `sql::jobs::claim`).
    pub async fn claim_jobs(
        &self,
        worker: String,
        now: i64,
        lease_until: i64,
        limit: i64,
        rotation: usize,
    ) -> Result<Claims, StoreError> {
        self.write(move |db| sql::jobs::claim(db, &worker, now, lease_until, limit, rotation))
            .await
    }

    /// Freezes the upstream request at the first send; the request in force.
    pub async fn freeze_request(
        &self,
        order: Order,
        lease: String,
        request: UpstreamRequest,
        now: i64,
    ) -> Result<Option<UpstreamRequest>, StoreError> {
        self.write(move |db| sql::jobs::freeze_request(db, &order, &lease, &request, now))
            .await
    }

    /// Records an attempt with the order's change and the job's next step, in one transaction.
    /// False when this claim no longer holds the job; `Conflict` when the order moved on.
    pub async fn record_attempt(
        &self,
        order: Order,
        lease: String,
        attempt: Attempt,
        change: Option<Change>,
        next: Next,
        now: i64,
    ) -> Result<bool, StoreError> {
        let key = order.business_id.to_string();
        self.write_for(&key, move |db| {
            sql::jobs::record(db, &order, &lease, &attempt, change.as_ref(), &next, now)
        })
        .await
    }

    pub async fn pause_account(
        &self,
        account: String,
        until: i64,
        reason: String,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| sql::jobs::pause_account(db, &account, until, &reason, now))
            .await
    }

    /// Re-arms a job that is not final (admin retry); false if there is nothing to re-arm.
    pub async fn rearm(&self, order_id: i64, now: i64) -> Result<bool, StoreError> {
        self.write(move |db| sql::jobs::rearm(db, order_id, now))
            .await
    }

    /// Makes the job of `upstream_key` on `account` due now — at once if it waits, as its attempt
    /// is recorded if it is in flight (an upstream's notification: only a hint, the dispatcher's
    /// query decides); false if no open job matched.
    pub async fn nudge_job(
        &self,
        account: String,
        upstream_key: String,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |db| sql::jobs::nudge(db, &account, &upstream_key, now))
            .await
    }

    /// The database's side of `/metrics`, in one snapshot.
    pub async fn gauges(&self) -> Result<Gauges, StoreError> {
        self.read(|db| {
            Ok(Gauges {
                orders: sql::orders::counts(db)?,
                jobs: sql::jobs::counts(db)?,
                oldest_open_job: sql::jobs::oldest_open(db)?,
                reports: sql::reports::counts(db)?,
                oldest_open_report: sql::reports::oldest_open(db)?,
            })
        })
        .await
    }

    pub async fn job_counts(&self) -> Result<Vec<(JobState, i64)>, StoreError> {
        self.read(sql::jobs::counts).await
    }

    // ---- status reports ------------------------------------------------------------------------

    /// Claims due reports host by host (see `sql::reports::claim`).
    pub async fn claim_reports(&self, c: ReportClaim) -> Result<Vec<DueReport>, StoreError> {
        self.write(move |db| {
            let f = |h: &str| c.per_host - c.busy.get(h).copied().unwrap_or(0);
            sql::reports::claim(db, &c.worker, c.now, c.lease_until, c.limit, &f, c.rotation)
        })
        .await
    }

    pub async fn record_report(
        &self,
        notify_id: String,
        lease: String,
        attempt: Attempted,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |db| sql::reports::record(db, &notify_id, &lease, &attempt, retry_at, now))
            .await
    }

    /// Sends a report again from the start of its schedule; false if unknown or being sent.
    pub async fn redeliver(&self, notify_id: String, now: i64) -> Result<bool, StoreError> {
        self.write(move |db| sql::reports::redeliver(db, &notify_id, now))
            .await
    }

    pub async fn report(
        &self,
        notify_id: String,
    ) -> Result<Option<(ReportRecord, Vec<ReportAttempt>)>, StoreError> {
        self.read(move |db| {
            let Some(r) = sql::reports::by_id(db, &notify_id)? else {
                return Ok(None);
            };
            let a = sql::reports::attempts(db, &r.notify_id)?;
            Ok(Some((r, a)))
        })
        .await
    }

    /// The reports of one order, in version order.
    pub async fn reports_of(
        &self,
        order_code: String,
    ) -> Result<Option<Vec<ReportRecord>>, StoreError> {
        self.read(move |db| match sql::orders::by_code(db, &order_code)? {
            None => Ok(None),
            Some(o) => sql::reports::of_order(db, o.id).map(Some),
        })
        .await
    }

    // ---- the operator console ------------------------------------------------------------------

    pub async fn create_session(&self, s: SessionRecord, now: i64) -> Result<(), StoreError> {
        self.write(move |db| sql::console::create_session(db, &s, now))
            .await
    }

    /// The session whose cookie id hashes to `id_hash`, if it has not expired.
    pub async fn session(
        &self,
        id_hash: String,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.read(move |db| sql::console::session(db, &id_hash, now))
            .await
    }

    pub async fn delete_session(&self, id_hash: String) -> Result<(), StoreError> {
        self.write(move |db| sql::console::delete_session(db, &id_hash))
            .await
    }

    /// The console's dashboard at `now`; businesses whose available balance is under `low` are
    /// listed.
    pub async fn dashboard(&self, now: i64, low: Fen) -> Result<Dashboard, StoreError> {
        self.read(move |db| sql::console::dashboard(db, now, low))
            .await
    }

    // ---- benchmarks ----------------------------------------------------------------------------

    /// Adds `count` finished orders (numbered from `first`) to `business_id`'s history in one
    /// transaction, its ledger accounts made if new and kept balanced (`rewardgate prefill`).
    #[allow(clippy::too_many_arguments)]
    pub async fn prefill(
        &self,
        tag: String,
        business_id: String,
        merchant_id: String,
        channel_account_id: String,
        first: i64,
        count: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let key = business_id.clone();
        self.write_for(&key, move |db| {
            sql::ledger::create_accounts(db, &business_id)?;
            sql::prefill::chunk(
                db,
                &tag,
                &business_id,
                &merchant_id,
                &channel_account_id,
                first,
                count,
                now,
            )
        })
        .await
    }
}
