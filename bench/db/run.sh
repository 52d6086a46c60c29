#!/usr/bin/env bash
# Index advice against Dexter on a TPC-H-like dataset.
#
#   DEXTER_DIR=path/to/dexter-v0.4.3 bench/db/run.sh
#
# Needs: psql, a PostgreSQL with the hypopg extension available (ADMIN_DSN,
# default postgres://postgres@127.0.0.1:5432/postgres), Go, and for the
# Dexter half Ruby with Debian's ruby-pg, ruby-pg-query and ruby-slop and a
# checkout of Dexter v0.4.3 in DEXTER_DIR (its code is not in this repo).
# SF scales the data (0.2: 1.2M lineitem rows; TPC-H's own generator is
# too slow on a small machine, so tpch.sql generates it in SQL).
#
# For each workload it reports, per advisor: the number and real total size
# of the suggested indexes, the workload's relative cost (summed planner
# cost with the indexes built for real, divided by the sum without), and
# the advisor's wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."

ADMIN_DSN=${ADMIN_DSN:-postgres://postgres@127.0.0.1:5432/postgres}
DB=${BENCH_DB:-perfengine_bench}
SF=${SF:-0.2}
DSN=${ADMIN_DSN%/*}/$DB
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log() { printf '== %s\n' "$*" >&2; }

if [ "${SKIP_LOAD:-}" != 1 ]; then
  log "loading the TPC-H-like data at SF $SF into $DB"
  psql -q "$ADMIN_DSN" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  psql -q "$DSN" -c "CREATE EXTENSION IF NOT EXISTS hypopg"
  start=$(date +%s.%N)
  psql -q "$DSN" -v sf="$SF" -f bench/db/tpch.sql >/dev/null
  log "loaded in $(echo "$(date +%s.%N) - $start" | bc) s"
fi

go build -o "$work/perfengine" ./cmd/perfengine
go build -o "$work/measure" ./bench/db/measure
cp bench/db/workload.sql "$work/w40.sql"
"$work/measure" -generate 100 > "$work/w100.sql"

timed() { # out cmd...
  local out=$1; shift
  local s; s=$(date +%s.%N)
  "$@" > "$out" 2>"$out.err"
  printf '%.2f' "$(echo "$(date +%s.%N) - $s" | bc)"
}

# Two more workloads of the issue's shapes on datasets of their own:
# events (tuned on) and desk (written after tuning, never tuned on).
for d in events desk; do
  if [ "${SKIP_LOAD:-}" != 1 ]; then
    log "loading bench/db/$d.sql into ${DB}_$d"
    psql -q "$ADMIN_DSN" -c "DROP DATABASE IF EXISTS ${DB}_$d" -c "CREATE DATABASE ${DB}_$d"
    psql -q "${ADMIN_DSN%/*}/${DB}_$d" -c "CREATE EXTENSION IF NOT EXISTS hypopg" -f "bench/db/$d.sql" >/dev/null
  fi
  cp "bench/db/${d}_workload.sql" "$work/$d.sql"
done
dsn_of() { case $1 in events|desk) echo "${ADMIN_DSN%/*}/${DB}_$1" ;; *) echo "$DSN" ;; esac; }
# The advisor's size estimates against the built sizes, for our rows.
sizes() { # workload advicefile
  "$work/measure" -dsn "$(dsn_of "$1")" -queries "$work/$1.sql" -advice "$2" -label sizes |
    jq -r --arg w "$1" '"\($w): built/estimated size per index \([.size_ratios[] | . * 100 | round / 100] | min)–\([.size_ratios[] | . * 100 | round / 100] | max), \([.size_ratios[] | select(. < 0.75 or . > 1.25)] | length) of \(.count) outside ±25 %"' >&2
}

printf '| workload | advisor | indexes | size MiB | relative cost | advice time s |\n|---|---|---|---|---|---|\n'
row() { # workload label advicefile seconds
  "$work/measure" -dsn "$(dsn_of "$1")" -queries "$work/$1.sql" -advice "$3" -label "$2" |
    jq -r --arg w "$1" --arg t "$4" '"| \($w) | \(.label) | \(.count) | \(.size_bytes / 1048576 * 10 | round / 10) | \(.relative_cost * 10000 | round / 10000) | \($t) |"'
}

for w in w40 w100 events desk; do
  wdsn=$(dsn_of "$w")
  t=$(timed "$work/ours-$w.json" "$work/perfengine" db advise --dsn "$wdsn" --queries "$work/$w.sql" --json)
  row "$w" "perfengine (defaults)" "$work/ours-$w.json" "$t"
  sizes "$w" "$work/ours-$w.json"
  t=$(timed "$work/tuned-$w.json" "$work/perfengine" db advise --dsn "$wdsn" --queries "$work/$w.sql" --json --min-share 0.02 --max-indexes 100)
  row "$w" "perfengine (--min-share 0.02 --max-indexes 100)" "$work/tuned-$w.json" "$t"
  t=$(timed "$work/covering-$w.json" "$work/perfengine" db advise --dsn "$wdsn" --queries "$work/$w.sql" --json --covering)
  row "$w" "perfengine (--covering)" "$work/covering-$w.json" "$t"
  if [ -n "${DEXTER_DIR:-}" ]; then
    t=$(timed "$work/dexter-$w.log" ruby -I "$DEXTER_DIR/lib" "$DEXTER_DIR/exe/dexter" "$wdsn" --input-format sql "$work/$w.sql")
    row "$w" "dexter 0.4.3 (defaults)" "$work/dexter-$w.log" "$t"
  else
    log "DEXTER_DIR is not set: Dexter skipped"
  fi
done

log "done when: a filtered query on the 1.2M-row lineitem gets its index, --apply builds it and the plan uses it"
echo "SELECT * FROM lineitem WHERE l_partkey = 4242 AND l_shipdate >= date '1995-01-01';" > "$work/one.sql"
"$work/perfengine" db advise --dsn "$DSN" --queries "$work/one.sql" --apply
psql -q "$DSN" -c "DROP INDEX IF EXISTS lineitem_l_partkey_idx, lineitem_l_partkey_l_shipdate_idx"
