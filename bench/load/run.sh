#!/usr/bin/env bash
# Load-generator benchmark: perfengine's closed model against wrk and vegeta
# with the same connections, its open model at 80 % of the maximum rate
# (compared with wrk2 when WRK2=/path/to/wrk2 is set), and its peak memory.
#
# The target is nginx from Debian (one worker, a 128-byte file, keep-alive
# never recycled) pinned to CPU 0; every generator is pinned to CPU 1. Tools
# run in alternating rounds so a noisy machine hits them alike, and the
# ratios are taken per round. Everything stays on loopback and is bounded in
# time. vegeta is installed with `go install` into a temporary GOBIN that is
# deleted at the end; nothing is written to the repository.
#
# Needs: nginx (/usr/sbin/nginx), wrk, taskset, jq, go, /usr/bin/time.
# PERFENGINE=/path/to/perfengine uses that binary instead of building one.
# Usage: bench/load/run.sh [-d SECONDS] [-o SECONDS] [-c CONNECTIONS] [-r ROUNDS] [-m]
#   -d  closed-model run length (default 10)
#   -o  open-model run length (default 30: wrk2 calibrates its rate over the
#       first seconds, shorter runs understate it)
#   -m  also run the memory check: open model at 100k requests/s for 60 s.
# OPEN_FRACTION=0.5 runs the open model at half the measured maximum instead
# of 80 % (useful when neighbours make the maximum a moving target).
set -euo pipefail

DUR=10
OPEN_DUR=30
CONNS=64
ROUNDS=3
MEM=0
while getopts "d:o:c:r:m" opt; do
	case $opt in
	d) DUR=$OPTARG ;;
	o) OPEN_DUR=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	m) MEM=1 ;;
	*) echo "usage: $0 [-d SECONDS] [-o SECONDS] [-c CONNECTIONS] [-r ROUNDS] [-m]" >&2; exit 2 ;;
	esac
done

for tool in wrk taskset jq go; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || { echo "bench: nginx not found at $NGINX (apt-get install nginx-light, or set NGINX)" >&2; exit 1; }

REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
NGINX_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench: building perfengine and installing vegeta into a temporary GOBIN" >&2
PE=${PERFENGINE:-$WORK/perfengine}
[ -n "${PERFENGINE:-}" ] || (cd "$REPO" && go build -o "$PE" ./cmd/perfengine)
(cd "$WORK" && GOFLAGS= GOBIN="$WORK/bin" go install github.com/tsenart/vegeta/v12@v12.13.0)
VEGETA="$WORK/bin/vegeta"

# nginx runs as an unprivileged worker: its files must be world-readable.
chmod 755 "$WORK"
mkdir -p "$WORK/www"
head -c 128 /dev/zero | tr '\0' a >"$WORK/www/index.html"
chmod -R a+rX "$WORK/www"
PORT=$(( 20000 + RANDOM % 20000 ))
sed "s#@DIR@#$WORK#g; s#@PORT@#$PORT#g" "$REPO/bench/load/nginx.conf.in" >"$WORK/nginx.conf"
taskset -c 0 "$NGINX" -c "$WORK/nginx.conf" -e "$WORK/error.log" &
NGINX_PID=$!
URL="http://127.0.0.1:$PORT/index.html"
for _ in $(seq 50); do
	curl -sf -o /dev/null "$URL" && break
	sleep 0.1
done
curl -sf -o /dev/null "$URL" || { echo "bench: nginx did not come up" >&2; cat "$WORK/error.log" >&2; exit 1; }

GEN="taskset -c 1"
# Each generator runs under /usr/bin/time: throughput is requests per wall
# second; efficiency is requests per CPU second the generator used. On a
# machine shared with other work the first swings with the neighbours, the
# second much less, so both are reported.
timed() { /usr/bin/time -f '%U %S' -o "$WORK/cpu" "$@"; }
cpu() { awk '{print $1+$2}' "$WORK/cpu"; }
run_wrk() {
	timed $GEN wrk -t1 -c"$CONNS" -d"${DUR}s" "$URL" >"$WORK/wrk.txt"
	echo "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt") $(awk '/requests in/ {print $1}' "$WORK/wrk.txt") $(cpu)"
}
run_pe() {
	timed $GEN "$PE" load --url "$URL" --concurrency "$CONNS" --duration "${DUR}s" --json --quiet >"$WORK/pe.json"
	echo "$(jq -r .throughput_rps "$WORK/pe.json") $(jq -r .requests "$WORK/pe.json") $(cpu)"
}
run_vegeta() {
	timed $GEN "$VEGETA" attack -rate=0 -max-workers="$CONNS" -workers="$CONNS" -connections="$CONNS" -keepalive=true \
		-duration="${DUR}s" -output="$WORK/vegeta.bin" <<<"GET $URL"
	local c
	c=$(cpu)
	"$VEGETA" report -type=json "$WORK/vegeta.bin" >"$WORK/vegeta.json"
	echo "$(jq -r .throughput "$WORK/vegeta.json") $(jq -r .requests "$WORK/vegeta.json") $c"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "bench: warm-up" >&2
$GEN wrk -t1 -c"$CONNS" -d2s "$URL" >/dev/null

echo "closed model, $CONNS connections, ${DUR}s per run; rps = requests/s, eff = requests per generator CPU second"
printf '%-5s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s\n' round wrk_rps pe_rps veg_rps wrk_eff pe_eff veg_eff rps/wrk rps/veg eff/wrk eff/veg
rw=() rv=() ew=() ev=() pe_all=()
for r in $(seq "$ROUNDS"); do
	read -r wr wn wc <<<"$(run_wrk)"
	read -r pr pn pc <<<"$(run_pe)"
	read -r vr vn vc <<<"$(run_vegeta)"
	we=$(jq -n "$wn/$wc") pee=$(jq -n "$pn/$pc") ve=$(jq -n "$vn/$vc")
	rw+=("$(jq -n "$pr/$wr")") rv+=("$(jq -n "$pr/$vr")") ew+=("$(jq -n "$pee/$we")") ev+=("$(jq -n "$pee/$ve")")
	pe_all+=("$pr")
	printf '%-5s %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %8.3f %8.3f %8.3f %8.3f\n' "$r" "$wr" "$pr" "$vr" "$we" "$pee" "$ve" "${rw[-1]}" "${rv[-1]}" "${ew[-1]}" "${ev[-1]}"
done
echo "median: rps/wrk $(median "${rw[@]}")  rps/vegeta $(median "${rv[@]}")  eff/wrk $(median "${ew[@]}")  eff/vegeta $(median "${ev[@]}")"

MAX=$(median "${pe_all[@]}")
FRACTION=${OPEN_FRACTION:-0.8}
RATE=$(jq -n "($MAX*$FRACTION)|floor")
echo
echo "open model at $FRACTION of $MAX = $RATE requests/s, $CONNS connections, ${OPEN_DUR}s per run"
# wrk2 (WRK2=/path/to/wrk2) runs alternately with perfengine, so both see
# the same neighbours; its --latency percentiles are corrected ones.
OPEN_ROUNDS=1
[ -n "${WRK2:-}" ] && OPEN_ROUNDS=$(( ROUNDS < 3 ? ROUNDS : 3 ))
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /m$/) {sub(/m$/,"",v); v*=60000} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}'; }
p99r=() accs=()
for r in $(seq "$OPEN_ROUNDS"); do
	$GEN "$PE" load --url "$URL" --rate "$RATE" --concurrency "$CONNS" --duration "${OPEN_DUR}s" --json --quiet >"$WORK/open.json"
	acc=$(jq -r --argjson t "$RATE" '(.rate_achieved_rps/$t-1)*100' "$WORK/open.json")
	accs+=("$acc")
	jq -r --argjson t "$RATE" '"perfengine: achieved \(.rate_achieved_rps)/s (\((.rate_achieved_rps/$t-1)*100*1000|round/1000)%), late \(.late), dropped \(.dropped), ok \(.success_ratio); p99 corrected \(.latency_ms.p99) ms, uncorrected \(.latency_uncorrected_ms.p99) ms"' "$WORK/open.json"
	if [ -n "${WRK2:-}" ]; then
		$GEN "$WRK2" -t1 -c"$CONNS" -d"${OPEN_DUR}s" -R"$RATE" --latency "$URL" >"$WORK/wrk2.txt"
		W2P99=$(awk '$1=="99.000%" {print $2; exit}' "$WORK/wrk2.txt" | ms)
		W2RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk2.txt")
		PEP99=$(jq .latency_ms.p99 "$WORK/open.json")
		p99r+=("$(jq -n "$PEP99/$W2P99")")
		echo "wrk2:       $W2RPS requests/s, corrected p99 $W2P99 ms; perfengine/wrk2 p99 ${p99r[-1]}"
	fi
done
echo "median rate error $(median "${accs[@]}") %${WRK2:+, median p99 ratio perfengine/wrk2 $(median "${p99r[@]}")}"
[ -n "${WRK2:-}" ] || echo "wrk2: not set (WRK2=/path/to/wrk2 to compare corrected p99)"

if [ "$MEM" = 1 ]; then
	echo
	echo "memory: open model at 100000 requests/s, $CONNS connections, 60s"
	# Peak RSS includes the binary's file-backed pages, which every command
	# of this binary pays (see "perfengine version" below); the anonymous
	# part is what the test itself allocates. Both are sampled each second.
	/usr/bin/time -f '%M' -o "$WORK/rss0" "$PE" version >/dev/null
	$GEN "$PE" load --url "$URL" --rate 100000 --concurrency "$CONNS" --duration 60s --json --quiet >"$WORK/mem.json" &
	pid=$!
	peak_rss=0 peak_anon=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ -r "/proc/$pid/status" ]; then
			rss=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
			anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
			[ "${rss:-0}" -gt "$peak_rss" ] && peak_rss=$rss
			[ "${anon:-0}" -gt "$peak_anon" ] && peak_anon=$anon
		fi
		sleep 1
	done
	wait "$pid"
	jq -r '"achieved \(.rate_achieved_rps)/s, \(.requests) requests, dropped \(.dropped)"' "$WORK/mem.json"
	echo "peak RSS $((peak_rss / 1024)) MiB, of which anonymous $((peak_anon / 1024)) MiB; 'perfengine version' alone peaks at $(( $(cat "$WORK/rss0") / 1024 )) MiB"
fi
