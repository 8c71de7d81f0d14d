#!/usr/bin/env bash
# End-to-end throughput and latency of the gateway with a real load generator
# (wrk), side by side in one run:
#   direct       wrk -> demo upstream
#   no-plugins   wrk -> portico (route without plugins) -> upstream
#   3-pooled     wrk -> portico (hello-header, transform, probe; pooled)
#   3-fresh      the same chain with fresh instances per request
#   tls          wrk -> portico over TLS (keep-alive, route without plugins)
#   obs-none     no-plugins on a second gateway with the access log (to a
#                file) and metrics on; the first has both off
#   obs-pooled   3-pooled on that second gateway
# Each run is bounded: DURATION seconds (default 5), CONNECTIONS connections
# (default 32), 2 threads, all on 127.0.0.1. Needs release binaries and the
# plugins: run it as `cargo xtask load`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
up_port=$(free_port)
gw_port=$(free_port)
tls_port=$(free_port)
obs_port=$(free_port)
obs_tls_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

target/release/demo-upstream "127.0.0.1:$up_port" 2>/dev/null &
pids+=($!)

cat > "$work/portico.toml" <<TOML
version = 1
plugin_dir = "$PWD/target/plugins"
[runtime]
cache_dir = "$PWD/target/test-cache"
[[listeners]]
name = "load"
addr = "127.0.0.1:$gw_port"
[[listeners]]
name = "load-tls"
addr = "127.0.0.1:$tls_port"
[listeners.tls]
certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
# observability: both off (the obs-* rows use a copy with both on)
[observability.metrics]
enabled = false
[upstreams.demo]
targets = ["127.0.0.1:$up_port"]

[[routes]]
name = "no-plugins"
path = { prefix = "/none" }
upstream = "demo"

[[routes]]
name = "three-pooled"
path = { prefix = "/pooled" }
upstream = "demo"
[[routes.plugins]]
name = "hello-header"
capabilities = ["log"]
config = { value = "world" }
[[routes.plugins]]
name = "transform"
capabilities = ["context"]
config.request.headers.set = { "x-a" = "1" }
[[routes.plugins]]
name = "probe"
capabilities = ["kv", "context"]
config = { tag = "p" }

[[routes]]
name = "three-fresh"
path = { prefix = "/fresh" }
upstream = "demo"
[[routes.plugins]]
name = "hello-header"
instance = "fresh"
capabilities = ["log"]
config = { value = "world" }
[[routes.plugins]]
name = "transform"
instance = "fresh"
capabilities = ["context"]
config.request.headers.set = { "x-a" = "1" }
[[routes.plugins]]
name = "probe"
instance = "fresh"
capabilities = ["kv", "context"]
config = { tag = "p" }
TOML

# The same gateway with the access log (every request, to a file) and
# metrics on.
sed -e "s/127.0.0.1:$gw_port/127.0.0.1:$obs_port/" -e "s/127.0.0.1:$tls_port/127.0.0.1:$obs_tls_port/" \
  -e "s|^# observability: both off.*|[observability.access_log]\nenabled = true\nfile = \"$work/access.log\"|" \
  -e "s/^enabled = false$/enabled = true/" \
  "$work/portico.toml" >"$work/portico-obs.toml"

for config in portico portico-obs; do
  RUST_LOG=warn target/release/portico run --config "$work/$config.toml" 2>"$work/$config.log" &
  pids+=($!)
done
for port in "$gw_port" "$obs_port"; do
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/none" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

run() { # name url
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-12s %10s req/s   p50 %-9s p99 %s\n' "$1" "$rps" "$p50" "$p99"
  echo "$1 $rps" >>"$work/rps"
}

echo "wrk: $CONNECTIONS connections, 2 threads, ${DURATION}s each"
run direct "http://127.0.0.1:$up_port/none"
run no-plugins "http://127.0.0.1:$gw_port/none"
run 3-pooled "http://127.0.0.1:$gw_port/pooled"
run 3-fresh "http://127.0.0.1:$gw_port/fresh"
run tls "https://127.0.0.1:$tls_port/none"
run obs-none "http://127.0.0.1:$obs_port/none"
run obs-pooled "http://127.0.0.1:$obs_port/pooled"
echo "access log: $(wc -l <"$work/access.log") lines"
awk 'NR==1 {base=$2} {printf "%-12s %.2fx of direct\n", $1, $2/base}' "$work/rps"
