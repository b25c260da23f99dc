//! The one loop both background workers run — the dispatcher (delivery jobs) and the callback
//! sender (status reports): claim what is due under a lease, as many as there are free slots;
//! work each claim in its own task, holding its slot; when every slot is busy, claim again as
//! soon as one frees; when nothing is due, wait a little; on
//! shutdown, let the tasks in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;
use tokio::sync::Semaphore;
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
            tokio::select! {
                _ = shutdown.cancelled() => break,
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
            let work = work.clone();
            tokio::spawn(async move {
                work.process(item).await;
                drop(slot);
            });
        }
    }
    let _ = slots.acquire_many(concurrency as u32).await;
}
