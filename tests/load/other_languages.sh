#!/usr/bin/env bash
# What plugins in other languages cost next to their Rust twins: canary-py
# (Python) vs canary-rs, body-validator-js (JavaScript) vs
# body-validator-rs, each alone on a route of its own gateway, pooled
# (default `recycle_memory_mb`, then 64) and fresh. Per row: wrk's req/s,
# the gateway's own phase histogram (`portico_plugin_call_duration_seconds`,
# p50 and mean of on-request), instances created, the instances' peak
# linear memory (`portico_plugin_memory_peak_bytes`) and the gateway's RSS
# growth under load. DURATION seconds per row (default 10), CONNECTIONS
# (default 32), 2 wrk threads, all on 127.0.0.1.
# Needs release binaries and target/plugins (cargo xtask plugins).
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
up_port=$(free_port)
target/release/demo-upstream "127.0.0.1:$up_port" 2>/dev/null &
pids+=($!)

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"name":"kettle","address":{"zip":10115},"tags":["kitchen"],"price":19.5}'
LUA

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# row NAME PLUGIN INSTANCE RECYCLE_MB
row() {
  local label=$1 plugin=$2 instance=$3 recycle=$4
  local gw_port admin_port config grant request file
  file="$work/$(tr -c 'a-z0-9\n' _ <<<"$label")"
  gw_port=$(free_port)
  admin_port=$(free_port)
  config="$file.toml"
  case $plugin in
    canary-*) grant='["context"]'; request="-H x-canary:1"
              plugin_config='values = ["1"], path_prefix = "/canary"' ;;
    *)        grant='[]'; request="-s $work/post.lua"
              plugin_config='required = { name = "string", "/address/zip" = "integer", tags = "array", price = "number" }, max_body_bytes = 65536' ;;
  esac
  cat > "$config" <<TOML
version = 1
plugin_dir = "$PWD/target/plugins"
[runtime]
cache_dir = "$PWD/target/test-cache"
[admin]
addr = "127.0.0.1:$admin_port"
[[listeners]]
name = "load"
addr = "127.0.0.1:$gw_port"
[upstreams.demo]
targets = ["127.0.0.1:$up_port"]
[[routes]]
name = "r"
path = { prefix = "/" }
upstream = "demo"
[[routes.plugins]]
name = "$plugin"
capabilities = $grant
instance = "$instance"
recycle_memory_mb = $recycle
config = { $plugin_config }
TOML
  target/release/portico run --config "$config" 2>"$file.log" &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$admin_port/metrics" && break
    sleep 0.1
  done
  local rss0
  rss0=$(rss_kb $pid)
  # shellcheck disable=SC2086
  local rps
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" $request "http://127.0.0.1:$gw_port/items" > "$file.wrk"
  rps=$(awk '/Requests\/sec/ {print $2}' "$file.wrk")
  if grep -q "Non-2xx" "$file.wrk"; then echo "$label: $(grep Non-2xx "$file.wrk")" >&2; fi
  local rss1
  rss1=$(rss_kb $pid)
  curl -s "http://127.0.0.1:$admin_port/metrics" > "$file.metrics"
  kill $pid; wait $pid 2>/dev/null || true
  python3 - "$label" "$rps" "$rss0" "$rss1" "$file.metrics" <<'PY'
import re, sys
label, rps, rss0, rss1, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
text = open(path).read()
def series(name, phase=None):
    out = []
    for line in text.splitlines():
        if line.startswith(name) and (phase is None or f'phase="{phase}"' in line):
            out.append(line)
    return out
def value(name):
    lines = series(name)
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0
def quantile(phase, q):
    buckets = []
    for line in series("portico_plugin_call_duration_seconds_bucket", phase):
        le = re.search(r'le="([^"]+)"', line).group(1)
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= q * total and count > below:
            if le == float("inf"):
                return lower
            # Linear within the bucket: the histogram's own resolution.
            return lower + (le - lower) * (q * total - below) / (count - below)
        lower, below = le, count
    return float("nan")
def mean(phase):
    s = series("portico_plugin_call_duration_seconds_sum", phase)
    c = series("portico_plugin_call_duration_seconds_count", phase)
    return float(s[0].rsplit(" ", 1)[1]) / max(1.0, float(c[0].rsplit(" ", 1)[1])) if s and c else float("nan")
created = value("portico_plugin_instances_created_total")
reused = value("portico_plugin_instances_reused_total")
peak = value("portico_plugin_memory_peak_bytes")
failures = {re.search(r'kind="([^"]+)"', l).group(1): float(l.rsplit(" ", 1)[1])
            for l in series("portico_plugin_failures_total")}
failed = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(failures.items()) if v) or "0"
us = lambda seconds: f"{seconds*1e6:,.1f} µs"
print(f"| {label} | {rps:,.0f} | {us(quantile('on_request', .5))} | {us(quantile('on_request', .99))} | {us(mean('on_request'))} "
      f"| {us(quantile('on_response', .5))} | {created:,.0f} | {reused:,.0f} | {peak/1048576:.1f} MiB | {(rss1-rss0)/1024:,.0f} MiB | {failed} |")
PY
}

echo "| row | req/s | on-request p50 | on-request p99 | on-request mean | on-response p50 | instances created | reused | peak linear memory | RSS growth | failures |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for spec in \
  "canary-rs:pooled:canary-rs:pooled:16" \
  "canary-py:pooled:canary-py:pooled:16" \
  "canary-py:pooled-64:canary-py:pooled:64" \
  "canary-rs:fresh:canary-rs:fresh:16" \
  "canary-py:fresh:canary-py:fresh:64" \
  "body-validator-rs:pooled:body-validator-rs:pooled:16" \
  "body-validator-js:pooled:body-validator-js:pooled:16" \
  "body-validator-js:pooled-64:body-validator-js:pooled:64" \
  "body-validator-rs:fresh:body-validator-rs:fresh:16" \
  "body-validator-js:fresh:body-validator-js:fresh:64"; do
  IFS=: read -r name mode plugin instance recycle <<<"$spec"
  if [[ -n ${ROWS:-} && " $ROWS " != *" $name:$mode "* ]]; then continue; fi
  row "$name $mode (recycle $recycle)" "$plugin" "$instance" "$recycle"
done
