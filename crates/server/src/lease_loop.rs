//! The one loop both background workers run — the dispatcher (delivery jobs) and the callback
//! sender (status reports): claim what is due under a lease, as many as there are free slots;
//! work each claim in its own task, holding its slot; when every slot is busy, claim again as
//! soon as one frees; when nothing could be claimed, wait a little — or until a task in flight
//! ends, since that may be what held the rest back (the callback sender's per-host cap); on
//! shutdown, let the tasks in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// What a worker claims and does.
pub trait Work: Send + Sync + 'static {
    type Item: Send + 'static;
    /// Claims up to `free` due items (an error is logged there and claims nothing).
    fn claim(self: &Arc<Self>, free: usize) -> impl Future<Output = Vec<Self::Item>> + Send;
    /// Works one claimed item to its recorded end.
    fn process(self: Arc<Self>, item: Self::Item) -> impl Future<Output = ()> + Send;
    /// Runs once a round, before claiming (housekeeping).
    fn round(self: &Arc<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Runs `work` with `concurrency` slots until `shutdown`, beating `heartbeat` every round; waits
/// `idle` when nothing was due.
pub async fn run<W: Work>(
    work: Arc<W>,
    concurrency: usize,
    idle: Duration,
    heartbeat: Arc<AtomicI64>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    // Told each time a task ends (a permit is kept when no one waits, so none is missed).
    let ended = Arc::new(Notify::new());
    while !shutdown.is_cancelled() {
        crate::state::Heartbeats::beat(&heartbeat);
        work.round().await;
        let free = slots.available_permits();
        if free == 0 {
            // Every slot is busy: claim again as soon as one frees, not a tick later — but go
            // round (and beat) at least every `idle`, so that slow work does not look like a
            // stopped worker to `/readyz`.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                p = slots.clone().acquire_owned() => drop(p),
                _ = tokio::time::sleep(idle) => {}
            }
            continue;
        }
        let claimed = work.claim(free).await;
        if claimed.is_empty() {
            // Nothing due, or nothing this process may take now: the end of a task in flight
            // (or one that ended while this claim ran: its notice waits) can free what was held
            // back — a callback host's slots were all busy, and the sender ran 4 reports every
            // 200 ms tick, 20 a second (bench-delivery). A notice left over costs one claim.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ended.notified() => {}
                _ = tokio::time::sleep(idle) => {}
            }
            continue;
        }
        for item in claimed {
            let slot = slots
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            let (work, ended) = (work.clone(), ended.clone());
            tokio::spawn(async move {
                work.process(item).await;
                drop(slot);
                ended.notify_one();
            });
        }
    }
    let _ = slots.acquire_many(concurrency as u32).await;
}
