#!/usr/bin/env bash
# Memory of a gateway whose plugin is swapped 100 times under load, against
# its memory at the start of the same run (issue: hot swap).
#   start       RSS after a warm-up under load, one plugin version loaded
#   100 swaps   RSS after 100 swaps (stamp v1 <-> v2, each confirmed by the
#               admin API) under continuous wrk load, once the replaced
#               snapshots are released
#   200 swaps   the same after 100 more, to tell a level from a trend
# wrk runs throughout; its errors and non-2xx counts are printed (expected: 0).
# Needs release binaries and the plugins: run it as `cargo xtask load`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
up_port=$(free_port)
gw_port=$(free_port)
admin_port=$(free_port)
mkdir "$work/plugins"
cp target/plugins/stamp-v1.wasm "$work/plugins/stamp.wasm"

target/release/demo-upstream "127.0.0.1:$up_port" 2>/dev/null &
pids+=($!)
cat > "$work/portico.toml" <<TOML
version = 1
plugin_dir = "plugins"
[runtime]
cache_dir = "$PWD/target/test-cache"
[reload]
interval_ms = 100
[admin]
addr = "127.0.0.1:$admin_port"
[[listeners]]
name = "load"
addr = "127.0.0.1:$gw_port"
[upstreams.demo]
targets = ["127.0.0.1:$up_port"]
[[routes]]
name = "stamped"
upstream = "demo"
[[routes.plugins]]
name = "stamp"
config = { label = "a" }
[[routes.plugins]]
name = "stamp"
config = { label = "b" }
TOML

RUST_LOG=warn target/release/portico run --config "$work/portico.toml" 2>"$work/portico.log" &
gateway=$!
pids+=($gateway)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$gw_port/" >/dev/null 2>&1 && break
  sleep 0.1
done

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$gateway/status"; }
settle() { # until no replaced snapshot is held
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$admin_port/reloads" | grep -q '"retired_snapshots_alive": 0' && return
    sleep 0.1
  done
}
swaps() { # count
  local i built sha
  for i in $(seq "$1"); do
    if (( i % 2 )); then built=stamp-v2; else built=stamp-v1; fi
    cp "target/plugins/$built.wasm" "$work/plugins/.stamp.tmp"
    mv "$work/plugins/.stamp.tmp" "$work/plugins/stamp.wasm"
    sha=$(sha256sum "$work/plugins/stamp.wasm" | cut -c1-64)
    until curl -fs "http://127.0.0.1:$admin_port/routes" | grep -q "$sha"; do sleep 0.02; done
  done
}

# Warm up: both versions compiled once (the compile cache is on disk), pools filled.
wrk -t2 -c16 -d3s "http://127.0.0.1:$gw_port/" >/dev/null
swaps 2
wrk -t2 -c16 -d3s "http://127.0.0.1:$gw_port/" >/dev/null
settle
start=$(rss_kib)

wrk -t2 -c16 -d600s "http://127.0.0.1:$gw_port/" >"$work/wrk.out" &
load=$!
pids+=($load)
began=$(date +%s.%N)
swaps 100
took=$(echo "$(date +%s.%N) - $began" | bc)
sleep 1
kill -INT "$load"; wait "$load" || true
settle
after100=$(rss_kib)

wrk -t2 -c16 -d600s "http://127.0.0.1:$gw_port/" >"$work/wrk2.out" &
load=$!
pids+=($load)
swaps 100
sleep 1
kill -INT "$load"; wait "$load" || true
settle
after200=$(rss_kib)

errors() { grep -E "Socket errors|Non-2xx" "$1" || echo "  no socket errors, no non-2xx responses"; }
echo "swap-memory: 16 connections of wrk load throughout; 100 swaps took ${took}s"
errors "$work/wrk.out"
errors "$work/wrk2.out"
grep -h "Requests/sec" "$work/wrk.out" "$work/wrk2.out" | sed 's/^/  /'
printf 'start       %8d KiB\n' "$start"
printf '100 swaps   %8d KiB  (%.2fx of start)\n' "$after100" "$(echo "$after100 / $start" | bc -l)"
printf '200 swaps   %8d KiB  (%.2fx of start)\n' "$after200" "$(echo "$after200 / $start" | bc -l)"

