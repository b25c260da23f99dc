//! `rewardgate prefill`: loads history into a database for growth benchmarks — N finished red-packet
//! orders of a business of their own (default `PREFILL-B`) with their done jobs and balanced
//! ledger postings, a chunk per transaction, with progress and a rate. Then start `serve` on the
//! database and run `rewardgate bench` to compare intake with an empty database's.

use crate::progress::Progress;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The database to fill (`sqlite://…` or `postgres://…`; migrated first).
    #[arg(long, env = "RG_DATABASE_URL")]
    database_url: String,
    /// How many orders to add.
    #[arg(long, default_value_t = 1_000_000)]
    orders: i64,
    /// Orders per transaction.
    #[arg(long, default_value_t = 50_000)]
    chunk: i64,
    /// The business the orders belong to (numbering continues from its existing history).
    #[arg(long, default_value = "PREFILL-B")]
    business: String,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    anyhow::ensure!(a.orders > 0, "--orders must be positive");
    anyhow::ensure!(
        (1..=1_000_000).contains(&a.chunk),
        "--chunk must be 1-1000000"
    );
    let store = rewardgate_store::Store::open(&a.database_url).await?;
    let now = rewardgate_core::clock::now_ms();
    // This run's tag keeps its order codes and bizCodes apart from any earlier prefill's.
    let tag = format!("{now:x}");
    let mut first = 1;
    let started = Instant::now();
    let mut done = 0i64;
    let mut p = Progress::new();
    while done < a.orders {
        let n = a.chunk.min(a.orders - done);
        let added = store
            .prefill(
                tag.clone(),
                a.business.clone(),
                "PREFILL-M".into(),
                "PREFILL-CH".into(),
                first,
                n,
                now,
            )
            .await?;
        done += added as i64;
        first += n;
        let secs = started.elapsed().as_secs_f64().max(0.001);
        p.update(&format!(
            "prefill: {done}/{} orders, {:.0} orders/s",
            a.orders,
            done as f64 / secs
        ));
    }
    p.finish();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "added {done} finished orders to business {} in {secs:.1}s ({:.0} orders/s)",
        a.business,
        done as f64 / secs.max(0.001)
    );
    Ok(())
}
