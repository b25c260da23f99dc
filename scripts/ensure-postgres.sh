#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at the URL given: starts the machine's cluster if it is
# down, installs PostgreSQL from Debian's packages if it is missing. Fails loudly otherwise.
set -euo pipefail
URL=${1:-postgres://postgres@127.0.0.1:5432/test}
up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is not installed: installing it from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
if ! up; then
  echo "PostgreSQL is down: starting it"
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 50); do up && break; sleep 0.2; done
fi
up || { echo "FAIL: PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
# Trust auth for local TCP as the tests expect; create the base database if missing.
if ! psql "$URL" -qtAc 'select 1' >/dev/null 2>&1; then
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n1)
  grep -q "rewardgate-tests" "$hba" || sed -i '1i host all all 127.0.0.1/32 trust # rewardgate-tests' "$hba"
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
  db=${URL##*/}
  su postgres -c "psql -qc 'CREATE DATABASE $db'" 2>/dev/null || true
fi
psql "$URL" -qtAc 'select 1' >/dev/null || { echo "FAIL: cannot connect to $URL" >&2; exit 1; }
echo "PostgreSQL is up at $URL"
