#!/usr/bin/env bash
# Load comparison of the API optimizer's cache, over loopback, with wrk:
#   plain   the demo handler, uncached
#   apiopt  the same handler behind apiopt (catalogue routes cached), net/http
#   fast    the same apiopt cache behind its fasthttp front (FastHandler)
#   varnish Varnish 7 in front of the plain handler, caching the same routes
# on the same cores, one after the other, for each URL below. Prints req/s
# and the ratios. Bounded: each wrk run lasts DURATION, the whole script at
# most 10 minutes. Only 127.0.0.1 is targeted. Installs wrk and varnish
# with apt-get when missing (as root).
#
#   bench/api/run.sh                 # defaults: 10s per run, 2 threads, 64 connections
#   DURATION=5s CONNS=32 bench/api/run.sh
set -euo pipefail
# Bound the whole run: timeout ends the script (and the trap cleans up).
if [ -z "${APIBENCH_BOUNDED:-}" ]; then
    APIBENCH_BOUNDED=1 exec timeout --kill-after=10 600 "$0" "$@"
fi

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
PLAIN=127.0.0.1:${PLAIN_PORT:-39481}
CACHED=127.0.0.1:${CACHED_PORT:-39482}
VARNISH=127.0.0.1:${VARNISH_PORT:-39483}
FAST=127.0.0.1:${FAST_PORT:-39484}
URLS=(${URLS:-/api/products/42 "/api/products?category=books&page=1"})

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
chmod 755 "$work" # varnishd reads its VCL after dropping privileges
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
for a in "$PLAIN" "$CACHED" "$VARNISH" "$FAST"; do
    if (exec 3<>"/dev/tcp/${a%:*}/${a#*:}") 2>/dev/null; then
        echo "run.sh: $a is taken; set PLAIN_PORT, CACHED_PORT or VARNISH_PORT" >&2
        exit 1
    fi
done

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ] || need+=(varnish)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    apt-get install -y "${need[@]}" >&2
fi
VARNISHD=$(command -v varnishd || echo /usr/sbin/varnishd)

echo "building apibench" >&2
(cd "$root" && go build -o "$work/apibench" ./bench/api)
"$work/apibench" -data "$work/data" -plain "$PLAIN" -cached "$CACHED" -fast "$FAST" 2>"$work/apibench.log" & pids+=($!)
sed "s/__PLAIN_PORT__/${PLAIN#*:}/" "$here/default.vcl" >"$work/default.vcl"
"$VARNISHD" -F -n "$work/varnish" -a "$VARNISH" -f "$work/default.vcl" -s malloc,256m \
    -p thread_pools=1 >"$work/varnish.log" 2>&1 & pids+=($!)

wait_up() {
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "http://$1/api/products/1" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "run.sh: $1 did not come up" >&2
    cat "$work"/*.log >&2
    exit 1
}
wait_up "$PLAIN"; wait_up "$CACHED"; wait_up "$VARNISH"; wait_up "$FAST"

rps() { # target url -> requests/s
    timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://$1$2" >"$work/wrk.out" 2>&1
    awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out"
}
p99() { awk '$1=="99%" {print $2}' "$work/wrk.out"; }

printf '%-38s %10s %10s %10s %10s %8s %8s %8s\n' url plain apiopt fast varnish api/plain api/varn fast/varn
for u in "${URLS[@]}"; do
    # Warm both caches and check that they answer the same bytes.
    a=$(curl -fsS "http://$CACHED$u" | sha256sum); curl -fsS -o /dev/null "http://$CACHED$u"
    v=$(curl -fsS "http://$VARNISH$u" | sha256sum); curl -fsS -o /dev/null "http://$VARNISH$u"
    [ "$a" = "$v" ] || { echo "run.sh: apiopt and varnish serve different bodies for $u" >&2; exit 1; }
    curl -fsS -D - -o /dev/null "http://$CACHED$u" | grep -qi '^cache-status: perfengine; hit' || { echo "run.sh: apiopt does not hit $u" >&2; exit 1; }
    f=$(curl -fsS "http://$FAST$u" | sha256sum)
    [ "$a" = "$f" ] || { echo "run.sh: apiopt on net/http and on fasthttp serve different bodies for $u" >&2; exit 1; }
    curl -fsS -D - -o /dev/null "http://$FAST$u" | grep -qi '^cache-status: perfengine; hit' || { echo "run.sh: fast does not hit $u" >&2; exit 1; }
    plain=$(rps "$PLAIN" "$u");     plain99=$(p99)
    cached=$(rps "$CACHED" "$u");   cached99=$(p99)
    fast=$(rps "$FAST" "$u");       fast99=$(p99)
    varnish=$(rps "$VARNISH" "$u"); varnish99=$(p99)
    printf '%-38s %10s %10s %10s %10s %8.2f %8.2f %8.2f\n' "$u" "$plain" "$cached" "$fast" "$varnish" \
        "$(echo "$cached / $plain" | bc -l)" "$(echo "$cached / $varnish" | bc -l)" "$(echo "$fast / $varnish" | bc -l)"
    printf '%-38s %10s %10s %10s %10s   (p99 latency)\n' "" "$plain99" "$cached99" "$fast99" "$varnish99"
done
echo "cores: $(nproc), wrk: -t$THREADS -c$CONNS -d$DURATION, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
