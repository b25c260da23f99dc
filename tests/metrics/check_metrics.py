"""Parses a running serve's /metrics with the Prometheus project's own Python parser
(prometheus_client.parser), independent of the Rust code that wrote it, and checks that the
series operators watch are there. Usage: check_metrics.py BASE_URL"""
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

WANT = {
    "rewardgate_http_requests": "counter",
    "rewardgate_http_request_duration_seconds": "histogram",
    "rewardgate_orders": "gauge",
    "rewardgate_jobs": "gauge",
    "rewardgate_job_queue_oldest_age_seconds": "gauge",
    "rewardgate_callbacks": "gauge",
    "rewardgate_callback_backlog_oldest_age_seconds": "gauge",
    "rewardgate_callback_attempts": "counter",
    "rewardgate_writer_batch_size": "histogram",
    "rewardgate_writer_commit_duration_seconds": "histogram",
}

base = sys.argv[1]
with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
    ctype = r.headers["Content-Type"]
    text = r.read().decode("utf-8")
assert ctype.startswith("text/plain; version=0.0.4"), ctype
families = {f.name: f for f in text_string_to_metric_families(text)}
missing = [n for n, t in WANT.items() if n not in families or families[n].type != t]
if missing:
    sys.exit(f"/metrics lacks {missing}; has {sorted(families)}")
samples = sum(len(f.samples) for f in families.values())
print(f"/metrics parsed by prometheus_client: {len(families)} families, {samples} samples")
