#!/usr/bin/env bash
# The whole test suite, on a fresh machine: checks the toolchain, starts PostgreSQL if it is not
# up, makes a Python venv for the cross-checks, then formatting, lints, every Rust test (SQLite
# and PostgreSQL), and SPEC's conformance check against a release `serve` on each database.
# Anything missing fails loudly; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED=${RG_SHARED_DIR:-$ROOT/../shared}
PG_URL=${RG_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export RG_TEST_PG_URL=$PG_URL

say() { printf '\n=== %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

say "toolchain"
command -v cargo >/dev/null || die "cargo is not installed"
command -v python3 >/dev/null || die "python3 is not installed (needed for the SPEC conformance check)"
[ -f "$SHARED/spec-check/check.py" ] || die "shared/ not found at $SHARED (set RG_SHARED_DIR)"
cargo --version

say "PostgreSQL"
bash scripts/ensure-postgres.sh "$PG_URL"

say "Python venv for cross-checks"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv || die "cannot create a venv"; fi
# Reinstall only when the requirements change (a stamp holds their hash).
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ "$(cat .venv/.requirements 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q -r scripts/requirements.txt || die "cannot install the Python packages in scripts/requirements.txt"
  echo "$want" > .venv/.requirements
fi

say "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

say "Rust tests (SQLite and PostgreSQL)"
cargo test --workspace 2>&1 | tee target/test-output.txt
grep -q "test result: FAILED" target/test-output.txt && die "Rust tests failed"

cargo build --release -q -p rewardgate
BIN=$ROOT/target/release/rewardgate

say "sandbox fidelity: third-party SDKs (wechatpy, wechatpayv3, python-alipay-sdk) against the sandbox"
RG_BIN=$BIN RG_SHARED_DIR=$SHARED .venv/bin/python -m pytest -q tests/fidelity 2>&1 | tee target/fidelity-output.txt
fidelity_passed=$(grep -Eo '[0-9]+ passed' target/fidelity-output.txt | tail -n1 | grep -Eo '[0-9]+' || echo 0)

say "operator console in headless Chromium (SQLite and PostgreSQL); screenshots in target/screenshots"
bash scripts/browser-deps.sh
RG_BIN=$BIN .venv/bin/python -m pytest -q tests/browser 2>&1 | tee target/browser-output.txt
grep -Eq '[0-9]+ passed' target/browser-output.txt && ! grep -Eq '[0-9]+ (failed|error)' target/browser-output.txt \
  || die "browser tests failed"
browser_passed=$(grep -Eo '[0-9]+ passed' target/browser-output.txt | tail -n1 | grep -Eo '[0-9]+')

say "SPEC conformance check against a release serve"
# Schemathesis against the live /openapi.json: bounded (a few examples an operation), seeded and
# without an example database so that CI repeats itself; any 5xx, undocumented status or content
# type, body that breaks its schema, admin call that works without the token, or undocumented
# method not answered 405 fails the run. One worker: two trip a CPython 3.11 ast.parse race
# inside Hypothesis.
schemathesis_run() {
  local name=$1 base=$2 token=$3
  .venv/bin/st run "$base/openapi.json" --url "$base" -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth,unsupported_method \
    --phases examples,coverage,fuzzing --max-examples 15 --seed 11 --generation-database none \
    --workers 1 --no-color \
    --report junit --report-junit-path "$ROOT/target/schemathesis-$name.xml"
}
spec_check() {
  local name=$1 url=$2 port=$3 token=spec-check-token-1
  local log=$ROOT/target/spec-check-$name.log
  RG_ADMIN_TOKEN=$token RG_DATABASE_URL=$url RG_LISTEN=127.0.0.1:$port "$BIN" serve >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  local rc=0
  .venv/bin/python "$SHARED/spec-check/check.py" "http://127.0.0.1:$port" "$token" || rc=$?
  [ $rc -eq 0 ] && { .venv/bin/python tests/metrics/check_metrics.py "http://127.0.0.1:$port" || rc=$?; }
  [ $rc -eq 0 ] && { .venv/bin/python tests/openapi/check_openapi.py "http://127.0.0.1:$port" || rc=$?; }
  [ $rc -eq 0 ] && { schemathesis_run "$name" "http://127.0.0.1:$port" "$token" || rc=$?; }
  kill -TERM "$pid"; wait "$pid" || true
  [ $rc -eq 0 ] || { cat "$log"; die "spec-check failed on $name"; }
  grep -q "rewardgate stopped" "$log" || die "serve did not shut down gracefully on SIGTERM ($name)"
}
TMP=$(mktemp -d)
spec_check sqlite "sqlite://$TMP/spec.db" 18931
PGDB=rg_spec_$$
psql "$PG_URL" -qc "CREATE DATABASE $PGDB" >/dev/null
spec_check postgres "${PG_URL%/*}/$PGDB" 18932
psql "$PG_URL" -qc "DROP DATABASE $PGDB WITH (FORCE)" >/dev/null
rm -rf "$TMP"

say "all checks passed"
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' target/test-output.txt)
echo "total: $((passed + fidelity_passed + browser_passed + 2)) passed, $failed failed"
