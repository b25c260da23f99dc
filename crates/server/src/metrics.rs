//! `GET /metrics` in Prometheus's text format (0.0.4), through the `prometheus` crate.
//!
//! Two kinds of series: what this process did (HTTP requests, upstream attempts, rate-limit
//! waits, callback attempts, the writer's batches) as counters and histograms, and what the
//! database holds (orders by type and status, the job queue and the callback backlog) as gauges
//! read at scrape time — the same from every process on one database. The database is read at
//! most once every few seconds, whoever scrapes.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the database gauges of one scrape serve the next ones.
const GAUGE_TTL: Duration = Duration::from_secs(5);

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    upstream_attempts: IntCounterVec,
    upstream_seconds: HistogramVec,
    rate_limited: IntCounterVec,
    callback_attempts: IntCounterVec,
    callback_seconds: Histogram,
    writer_batch: Histogram,
    writer_seconds: Histogram,
    orders: IntGaugeVec,
    jobs: IntGaugeVec,
    oldest_job: Gauge,
    reports: IntGaugeVec,
    oldest_report: Gauge,
    read_at: Mutex<Option<Instant>>,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("a valid histogram");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

fn histograms(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help), labels).expect("a valid histogram");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

impl Default for Metrics {
    fn default() -> Self {
        let r = Registry::new_custom(Some("rewardgate".into()), None).expect("a valid prefix");
        let age = |name: &str, help: &str| {
            let g = Gauge::new(name, help).expect("a valid gauge");
            r.register(Box::new(g.clone())).expect("registered once");
            g
        };
        let m = Metrics {
            http_requests: counter(
                &r,
                "http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                &["route", "method", "status"],
            ),
            http_seconds: histograms(
                &r,
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route template and method.",
                &["route", "method"],
            ),
            upstream_attempts: counter(
                &r,
                "upstream_attempts_total",
                "Upstream calls made by this process, by channel kind, channel account, step and \
                 answer code (GRANTED, FAILED:<code>, UNKNOWN, PENDING, DEFERRED:<code>…).",
                &["channel", "account", "step", "code"],
            ),
            upstream_seconds: histograms(
                &r,
                "upstream_attempt_duration_seconds",
                "Time an upstream call took, by channel kind.",
                &["channel"],
            ),
            rate_limited: counter(
                &r,
                "rate_limit_waits_total",
                "Claims that passed over a channel account's due jobs because its rate bucket was \
                 empty.",
                &["account"],
            ),
            callback_attempts: counter(
                &r,
                "callback_attempts_total",
                "Status-report deliveries tried by this process, by result (delivered, failed).",
                &["result"],
            ),
            callback_seconds: histogram(
                &r,
                "callback_attempt_duration_seconds",
                "Time a status-report delivery took.",
                prometheus::DEFAULT_BUCKETS.to_vec(),
            ),
            writer_batch: histogram(
                &r,
                "writer_batch_size",
                "Operations committed together in one writer transaction.",
                vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                ],
            ),
            writer_seconds: histogram(
                &r,
                "writer_commit_duration_seconds",
                "Time from a writer batch's start to its durable commit.",
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            orders: gauge(
                &r,
                "orders",
                "Orders in the database, by product type and status.",
                &["type", "status"],
            ),
            jobs: gauge(
                &r,
                "jobs",
                "Delivery jobs in the database, by state (READY and IN_FLIGHT are the queue).",
                &["state"],
            ),
            oldest_job: age(
                "job_queue_oldest_age_seconds",
                "Age of the oldest delivery job still to finish (0 when none).",
            ),
            reports: gauge(
                &r,
                "callbacks",
                "Status reports in the database, by state (PENDING and SENDING are the backlog).",
                &["state"],
            ),
            oldest_report: age(
                "callback_backlog_oldest_age_seconds",
                "Age of the oldest status report still to deliver (0 when none).",
            ),
            read_at: Mutex::new(None),
            registry: r,
        };
        for result in ["delivered", "failed"] {
            m.callback_attempts.with_label_values(&[result]).inc_by(0);
        }
        m
    }
}

impl Metrics {
    pub fn upstream_attempt(
        &self,
        channel: &str,
        account: &str,
        step: &str,
        code: &str,
        t: Duration,
    ) {
        self.upstream_attempts
            .with_label_values(&[channel, account, step, code])
            .inc();
        self.upstream_seconds
            .with_label_values(&[channel])
            .observe(t.as_secs_f64());
    }

    pub fn rate_limited(&self, accounts: &[String]) {
        for a in accounts {
            self.rate_limited.with_label_values(&[a]).inc();
        }
    }

    /// Makes each account's rate-limit series exist (at 0) before its first wait.
    pub fn known_accounts(&self, accounts: &[String]) {
        for a in accounts {
            self.rate_limited.with_label_values(&[a]).inc_by(0);
        }
    }

    pub fn callback_attempt(&self, delivered: bool, t: Duration) {
        let result = if delivered { "delivered" } else { "failed" };
        self.callback_attempts.with_label_values(&[result]).inc();
        self.callback_seconds.observe(t.as_secs_f64());
    }

    pub fn writer_batch(&self, size: usize, t: Duration) {
        self.writer_batch.observe(size as f64);
        self.writer_seconds.observe(t.as_secs_f64());
    }

    /// Reads the database gauges unless a recent scrape did.
    async fn refresh(&self, state: &AppState) {
        {
            let mut at = self.read_at.lock().expect("metrics lock");
            if at.is_some_and(|t| t.elapsed() < GAUGE_TTL) {
                return;
            }
            *at = Some(Instant::now());
        }
        let g = match state.store.gauges().await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the database gauges could not be read");
                *self.read_at.lock().expect("metrics lock") = None;
                return;
            }
        };
        let now = rewardgate_core::clock::now_ms();
        let age = |at: Option<i64>| at.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        self.orders.reset();
        for t in rewardgate_core::order::ProductType::ALL {
            for s in rewardgate_core::order::OrderStatus::ALL {
                self.orders
                    .with_label_values(&[t.as_str(), s.as_str()])
                    .set(0);
            }
        }
        for (t, s, n) in &g.orders {
            self.orders.with_label_values(&[t, s]).set(*n);
        }
        self.jobs.reset();
        for s in rewardgate_core::delivery::JobState::ALL {
            self.jobs.with_label_values(&[s.as_str()]).set(0);
        }
        for (s, n) in &g.jobs {
            self.jobs.with_label_values(&[s.as_str()]).set(*n);
        }
        self.oldest_job.set(age(g.oldest_open_job));
        self.reports.reset();
        for s in rewardgate_core::report::ReportState::ALL {
            self.reports.with_label_values(&[s.as_str()]).set(0);
        }
        for (s, n) in &g.reports {
            self.reports.with_label_values(&[s.as_str()]).set(*n);
        }
        self.oldest_report.set(age(g.oldest_open_report));
    }

    fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        out
    }
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<AppState>) -> Response {
    s.metrics.refresh(&s).await;
    let mut r = s.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// The route template a request matched, handed out on its answer for `record`.
#[derive(Clone)]
struct Route(String);

/// Inside the router (a route layer): notes the matched route template on the answer.
pub async fn note_route(path: MatchedPath, req: Request, next: Next) -> Response {
    let route = Route(path.as_str().to_string());
    let mut res = next.run(req).await;
    res.extensions_mut().insert(route);
    res
}

/// Outside the router: counts every request by route template (`unmatched` for no route, so
/// that scanned paths cannot grow the series), method and status, with its latency.
pub async fn record(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let route = res
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str());
    let method = match method.as_str() {
        "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH" | "OPTIONS" => method.as_str(),
        _ => "other",
    };
    s.metrics
        .http_requests
        .with_label_values(&[route, method, res.status().as_str()])
        .inc();
    s.metrics
        .http_seconds
        .with_label_values(&[route, method])
        .observe(started.elapsed().as_secs_f64());
    res
}
