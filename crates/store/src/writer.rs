//! Group commit. One thread owns the write connection; callers send operations through a bounded
//! queue and wait for their reply. The thread takes everything waiting (up to a cap), runs it in
//! one transaction and answers each caller only once that transaction is durable. Operations never
//! fail their batch-mates: business refusals are results, not errors, and an operation that hits
//! a database error is rolled back to its own savepoint while the rest of the batch commits (a
//! retryable error is then run again alone). Only a batch that cannot commit is rerun op by op.

use crate::db::Db;
use crate::{AcceptOutcome, NonceUse, StoreError};
use rewardgate_core::order::NewOrder;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How many operations share one transaction at most.
pub const MAX_BATCH: usize = 1024;

/// How many times an operation hit by a deadlock or a serialization failure runs again alone.
const MAX_RETRIES: u32 = 12;

pub(crate) trait WriteOp: Send {
    /// Does the work inside the open transaction and keeps its result. May run more than once
    /// (after a rollback), so it must not have effects outside the database.
    fn apply(&mut self, db: &mut dyn Db) -> Result<(), StoreError>;
    /// Hands the kept result to the caller once the transaction committed, or the error.
    fn complete(self: Box<Self>, outcome: Result<(), StoreError>);
    /// An order intake, which the writer takes in together with its neighbours in the batch.
    fn intake(&mut self) -> Option<&mut IntakeOp> {
        None
    }
}

/// Taking an order in (`intake::accept`, or with its neighbours `intake::accept_batch`).
pub(crate) struct IntakeOp {
    nonce: NonceUse,
    order: NewOrder,
    out: Option<AcceptOutcome>,
    reply: oneshot::Sender<Result<AcceptOutcome, StoreError>>,
}

impl WriteOp for IntakeOp {
    fn apply(&mut self, db: &mut dyn Db) -> Result<(), StoreError> {
        self.out = Some(crate::sql::intake::accept(db, &self.nonce, &self.order)?);
        Ok(())
    }
    fn complete(self: Box<Self>, outcome: Result<(), StoreError>) {
        answer(self.reply, self.out, outcome)
    }
    fn intake(&mut self) -> Option<&mut IntakeOp> {
        Some(self)
    }
}

/// Sends the caller the kept result once its transaction committed, or the error.
fn answer<R>(
    reply: oneshot::Sender<Result<R, StoreError>>,
    out: Option<R>,
    outcome: Result<(), StoreError>,
) {
    let r = outcome.and_then(|_| out.ok_or_else(|| StoreError::Db("no result".into())));
    let _ = reply.send(r);
}

struct FnOp<F, R> {
    f: F,
    out: Option<R>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> WriteOp for FnOp<F, R>
where
    F: FnMut(&mut dyn Db) -> Result<R, StoreError> + Send,
    R: Send,
{
    fn apply(&mut self, db: &mut dyn Db) -> Result<(), StoreError> {
        self.out = Some((self.f)(db)?);
        Ok(())
    }
    fn complete(self: Box<Self>, outcome: Result<(), StoreError>) {
        answer(self.reply, self.out, outcome)
    }
}

/// Told of every batch the writer ran: its size and how long it took to be durable.
pub type WriterObserver = Arc<dyn Fn(usize, Duration) + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Writer {
    /// One queue per writer thread.
    txs: Arc<Vec<mpsc::Sender<Box<dyn WriteOp>>>>,
    pub observer: Arc<OnceLock<WriterObserver>>,
}

impl Writer {
    /// Starts writer threads, one per connection, each with its own queue; `reconnect` replaces a
    /// broken connection. SQLite has one writer; PostgreSQL several, so that one batch's round
    /// trips overlap another's. Writes about one business (intake, top-ups, outcomes, its
    /// settings) go to one thread (`write_for`), so within a process two batches do not wait on a
    /// business's rows; rows every business shares (the platform's funding account, the
    /// catalogue version, channel rate buckets) and other processes on the database can still
    /// meet, which PostgreSQL resolves and `run_alone` retries.
    pub fn start(
        dbs: Vec<Box<dyn Db>>,
        reconnect: Arc<dyn Fn() -> Result<Box<dyn Db>, StoreError> + Send + Sync>,
    ) -> Writer {
        let observer: Arc<OnceLock<WriterObserver>> = Arc::default();
        let mut txs = Vec::new();
        for (i, db) in dbs.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
            txs.push(tx);
            let (reconnect, seen) = (reconnect.clone(), observer.clone());
            std::thread::Builder::new()
                .name(format!("rg-writer-{i}"))
                .spawn(move || run(db, reconnect, rx, seen))
                .expect("spawn a writer thread");
        }
        Writer {
            txs: Arc::new(txs),
            observer,
        }
    }

    /// Runs `f` in a (shared) transaction on the least busy writer and returns its result once
    /// committed.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnMut(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let i = (0..self.txs.len())
            .max_by_key(|&i| self.txs[i].capacity())
            .unwrap_or(0);
        self.send(i, f).await
    }

    /// As `write`, on the writer that owns `key` (a business id): every write about one
    /// business goes through one thread.
    pub async fn write_for<R, F>(&self, key: &str, f: F) -> Result<R, StoreError>
    where
        F: FnMut(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.send(self.owner(key), f).await
    }

    /// Takes an order in on the writer that owns its business.
    pub async fn accept(
        &self,
        nonce: NonceUse,
        order: NewOrder,
    ) -> Result<AcceptOutcome, StoreError> {
        let i = self.owner(order.business_id.as_str());
        let (reply, rx) = oneshot::channel();
        let op = IntakeOp {
            nonce,
            order,
            out: None,
            reply,
        };
        self.submit(i, Box::new(op), rx).await
    }

    /// The writer that owns `key`. FNV-1a: stable across processes and cheap.
    fn owner(&self, key: &str) -> usize {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (h % self.txs.len() as u64) as usize
    }

    async fn send<R, F>(&self, i: usize, f: F) -> Result<R, StoreError>
    where
        F: FnMut(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let op = FnOp {
            f,
            out: None,
            reply,
        };
        self.submit(i, Box::new(op), rx).await
    }

    async fn submit<R>(
        &self,
        i: usize,
        op: Box<dyn WriteOp>,
        rx: oneshot::Receiver<Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        self.txs[i]
            .send(op)
            .await
            .map_err(|_| StoreError::Db("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Db("the writer dropped the operation".into()))?
    }
}

/// Takes the next batch: blocks for the first operation, then everything already waiting.
fn next_batch(rx: &mut mpsc::Receiver<Box<dyn WriteOp>>) -> Option<Vec<Box<dyn WriteOp>>> {
    let first = rx.blocking_recv()?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn run(
    mut db: Box<dyn Db>,
    reconnect: Arc<dyn Fn() -> Result<Box<dyn Db>, StoreError> + Send + Sync>,
    mut rx: mpsc::Receiver<Box<dyn WriteOp>>,
    observer: Arc<OnceLock<WriterObserver>>,
) {
    while let Some(batch) = next_batch(&mut rx) {
        if db.is_broken() {
            match reconnect() {
                Ok(d) => db = d,
                Err(e) => {
                    tracing::error!(error = %e, "database connection lost; retrying");
                    for op in batch {
                        op.complete(Err(StoreError::Retryable("database unavailable".into())));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
            }
        }
        let (size, started) = (batch.len(), Instant::now());
        run_batch(db.as_mut(), batch);
        if let Some(f) = observer.get() {
            f(size, started.elapsed());
        }
    }
}

fn run_batch(db: &mut dyn Db, mut batch: Vec<Box<dyn WriteOp>>) {
    if batch.len() > 1 {
        match with_savepoints(db, &mut batch) {
            Ok(failed) => {
                let mut again = Vec::new();
                for (op, err) in batch.into_iter().zip(failed) {
                    match err {
                        None => op.complete(Ok(())),
                        Some(StoreError::Retryable(_)) => again.push(op),
                        Some(e) => op.complete(Err(e)),
                    }
                }
                for mut op in again {
                    let r = run_alone(db, op.as_mut());
                    op.complete(r);
                }
                return;
            }
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                tracing::warn!(error = %e, size = batch.len(), "batch rolled back; running its operations one by one");
            }
        }
    }
    for mut op in batch {
        let r = run_alone(db, op.as_mut());
        op.complete(r);
    }
}

/// One transaction with a savepoint per operation: an operation's error undoes that operation
/// alone. A run of order intakes goes in together (`intake::accept_batch`), under one savepoint on
/// PostgreSQL: should that fail, its orders go one by one like the rest (on SQLite, the whole
/// batch does). The errors by position, once committed; an error of the transaction itself
/// otherwise.
fn with_savepoints(
    db: &mut dyn Db,
    batch: &mut [Box<dyn WriteOp>],
) -> Result<Vec<Option<StoreError>>, StoreError> {
    // Statements held back to go with the next ones: on PostgreSQL the transaction's BEGIN goes
    // with the first savepoint, a savepoint's release with the next savepoint or the COMMIT —
    // a round trip each less a batch (on SQLite they run at once, where they cost no trip).
    let mut held = Held::new(db)?;
    let n = batch.len();
    // The operations still to run one by one: all but the intakes a run answered.
    let mut alone: Vec<usize> = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let end = (i..n).find(|&j| batch[j].intake().is_none()).unwrap_or(n);
        if end - i < 2 {
            alone.push(i);
            i += 1;
            continue;
        }
        let mut run: Vec<&mut IntakeOp> = batch[i..end]
            .iter_mut()
            .filter_map(|op| op.intake())
            .collect();
        // SQLite keeps a savepoint's page images in one in-memory sub-journal and, as each
        // statement inside it ends, walks that journal from its start (`memjrnlTruncate`, from
        // `vdbeCloseStatement`): under a savepoint held over a whole run every statement cost more
        // than the one before (perf: 5 % of all the server's samples, nearly all on that walk).
        // There a run goes without one; should it fail, the whole batch is rolled back and its
        // operations run one by one (`run_batch`), which is rare and costs only time.
        let guarded = db.dialect() == crate::db::Dialect::Postgres;
        if guarded {
            held.run(db, &["SAVEPOINT run"])?;
        }
        let items: Vec<(&NonceUse, &NewOrder)> =
            run.iter().map(|op| (&op.nonce, &op.order)).collect();
        match crate::sql::intake::accept_batch(db, &items) {
            Ok(outs) => {
                if guarded {
                    held.hold(db, &["RELEASE SAVEPOINT run"])?;
                }
                for (k, (op, out)) in run.iter_mut().zip(outs).enumerate() {
                    if out.is_none() {
                        alone.push(i + k);
                    }
                    op.out = out;
                }
            }
            Err(e) => {
                if db.is_broken() || !guarded {
                    return Err(e);
                }
                tracing::debug!(error = %e, "a run of intakes failed together; taking them one by one");
                statements(db, &["ROLLBACK TO SAVEPOINT run", "RELEASE SAVEPOINT run"])?;
                alone.extend(i..end);
            }
        }
        i = end;
    }
    let mut failed: Vec<Option<StoreError>> = (0..n).map(|_| None).collect();
    for &i in &alone {
        held.run(db, &["SAVEPOINT op"])?;
        match batch[i].apply(db) {
            Ok(()) => held.hold(db, &["RELEASE SAVEPOINT op"])?,
            Err(e) => {
                if db.is_broken() {
                    return Err(e);
                }
                held.hold(db, &["ROLLBACK TO SAVEPOINT op", "RELEASE SAVEPOINT op"])?;
                failed[i] = Some(e);
            }
        }
    }
    held.run(db, &["COMMIT"])?;
    Ok(failed)
}

/// Statements that return nothing, held back on PostgreSQL until the next ones are sent.
struct Held(Vec<&'static str>);

impl Held {
    /// Opens the transaction (on PostgreSQL, with the next statements sent).
    fn new(db: &mut dyn Db) -> Result<Held, StoreError> {
        if db.dialect() == crate::db::Dialect::Postgres {
            Ok(Held(vec!["BEGIN"]))
        } else {
            db.begin()?;
            Ok(Held(Vec::new()))
        }
    }

    /// Runs what is held, then `sql`.
    fn run(&mut self, db: &mut dyn Db, sql: &[&'static str]) -> Result<(), StoreError> {
        self.0.extend_from_slice(sql);
        let all = std::mem::take(&mut self.0);
        statements(db, &all)
    }

    /// Holds `sql` for the next statements (PostgreSQL); runs it at once on SQLite.
    fn hold(&mut self, db: &mut dyn Db, sql: &[&'static str]) -> Result<(), StoreError> {
        if db.dialect() == crate::db::Dialect::Postgres {
            self.0.extend_from_slice(sql);
            Ok(())
        } else {
            statements(db, sql)
        }
    }
}

/// Runs statements that return nothing: in one round trip on PostgreSQL (a simple query of
/// several), one by one on SQLite (where a single statement is prepared once and kept).
fn statements(db: &mut dyn Db, sql: &[&str]) -> Result<(), StoreError> {
    match db.dialect() {
        crate::db::Dialect::Postgres => db.batch(&sql.join("; ")),
        crate::db::Dialect::Sqlite => sql.iter().try_for_each(|s| db.batch(s)),
    }
}

fn run_alone(db: &mut dyn Db, op: &mut dyn WriteOp) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        let r = db
            .begin()
            .and_then(|_| op.apply(db))
            .and_then(|_| db.batch("COMMIT"));
        match r {
            Ok(()) => return Ok(()),
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                attempt += 1;
                if !matches!(e, StoreError::Retryable(_))
                    || attempt >= MAX_RETRIES
                    || db.is_broken()
                {
                    return Err(e);
                }
                // Several PostgreSQL writers can deadlock on a busy business's rows (each batch
                // holds its locks until it commits); the database breaks the cycle and the loser
                // runs again, after a wait that grows and is spread so the two do not meet again.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos() % 11));
                let wait = (5u64 << attempt.min(6)) + jitter * attempt as u64;
                std::thread::sleep(Duration::from_millis(wait));
            }
        }
    }
}
