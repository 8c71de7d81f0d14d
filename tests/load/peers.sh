#!/usr/bin/env bash
# The peer benchmark: Portico side by side with nginx, HAProxy and
# nginx+Lua (the OpenResty/Kong design) in one run, on this machine.
#
#   cargo xtask peers            # every row below (about 12 minutes)
#   ROWS="main idle" cargo xtask peers
#
# Method (see README "Performance"):
# - every proxy runs pinned to CPU 0 with one worker (nginx
#   `worker_processes 1`, HAProxy `nbthread 1`, Portico `workers = 1`);
#   the backend (nginx `return 200` with a fixed 19-byte body) and the load
#   generator are pinned to CPU 1;
# - rounds are interleaved (every contender once per round, in turn), and
#   each row is the median over rounds of its ratio to nginx in the same
#   round, so the machine's drift cancels out;
# - the same policy work on both sides: nginx+Lua does key auth, a
#   per-second counter in a shared dict and a header set each way; Portico
#   runs `api-key` -> `rate-limit` -> `transform` doing the same.
#
# Rows (ROWS, space separated; default all):
#   main     plain proxying and the 3-plugin chain (wrk, HTTP/1.1 keep-alive)
#   tls      TLS termination, keep-alive (wrk over HTTPS)
#   h2       HTTP/2 (h2load over h2c and over TLS with ALPN h2)
#   chains   0/1/3/5/10 `transform` plugins: marginal cost per plugin
#   routes   10 / 1,000 / 10,000 prefix routes, the last one requested
#   idle     RSS per idle keep-alive connection, HTTP/1.1 and HTTP/2
#   latency  fixed-rate (open-loop) latency at half of nginx's maximum
#   soak     RSS after SOAK_S (600) seconds at full load vs after 60 s
#   phases   the gateway's own per-plugin phase histogram under load
#   redis    the 3-plugin chain with its counters in a local redis-server
#            (pinned to CPU 1) against the same chain in memory
#
# Knobs: ROUNDS (5), DURATION (8 s per run), CONNECTIONS (32),
# IDLE_CONNECTIONS (4000), SOAK_S (600); PORTICO_BEFORE (another build, as
# two more rows) with PLUGINS_BEFORE (its plugin directory, default the
# same plugins); KEEP_WORK=1 keeps the scratch
# directory (configs, logs) for a look after the run.
# Needs release binaries and the plugins: run it as `cargo xtask peers`,
# which also installs nginx, HAProxy, wrk, h2load and nginx's Lua module
# with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-32}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-4000}
SOAK_S=${SOAK_S:-600}
ROWS=${ROWS:-"main tls h2 chains routes idle latency phases redis"}
PORTICO=${PORTICO:-target/release/portico}
PLUGINS=${PLUGINS:-$PWD/target/plugins}
LOADGEN=${LOADGEN:-target/release/portico-loadgen}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

has_row() { [[ " $ROWS " == *" $1 "* ]]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port [path]
  for _ in $(seq 200); do
    curl -fs -o /dev/null "http://127.0.0.1:$1${2:-/}" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "peers: nothing answers on port $1" >&2
  return 1
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# The worker of a master/worker nginx: the child of the master.
nginx_worker() { pgrep -P "$(cat "$1")" | head -1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# The API key both sides accept, and its SHA-256 for Portico's config.
KEY=peers-benchmark-key-0123456789abcdef
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)

# ---------------------------------------------------------------- backend
backend_port=$(free_port)
cat >"$work/backend.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/backend.pid;
error_log $work/backend.err warn;
events { worker_connections 9000; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$backend_port backlog=4096;
    location / { return 200 "hello from backend!"; }
  }
}
NGINX
taskset -c 1 nginx -c "$work/backend.conf" -p "$work" 2>>"$work/backend.err" &
pids+=($!)
wait_port "$backend_port"

# ----------------------------------------------------------------- nginx
nginx_port=$(free_port); nginx_tls=$(free_port); nginx_h2c=$(free_port)
lua_port=$(free_port)
modules=/usr/lib/nginx/modules
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 9000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    listen 127.0.0.1:$nginx_tls ssl http2 backlog=4096;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:$nginx_h2c http2 backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
cat >"$work/lua.conf" <<NGINX
load_module $modules/ndk_http_module.so;
load_module $modules/ngx_http_lua_module.so;
worker_processes 1;
daemon off;
pid $work/lua.pid;
error_log $work/lua.err warn;
events { worker_connections 9000; }
http {
  access_log off;
  keepalive_requests 100000000;
  lua_shared_dict counters 16m;
  init_by_lua_block { consumers = { ["$KEY"] = "alice" } }
  upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
  server {
    listen 127.0.0.1:$lua_port backlog=4096;
    location / {
      access_by_lua_block {
        local key = ngx.var.http_x_api_key
        local consumer = key and consumers[key]
        if not consumer then return ngx.exit(401) end
        local counter = consumer .. ":" .. ngx.time()
        local n = ngx.shared.counters:incr(counter, 1, 0, 2)
        if n > 1000000 then return ngx.exit(429) end
        ngx.req.clear_header("x-api-key")
        ngx.req.set_header("x-consumer", consumer)
      }
      header_filter_by_lua_block { ngx.header["x-gateway"] = "lua" }
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" 2>>"$work/nginx.err" &
pids+=($!)
taskset -c 0 nginx -c "$work/lua.conf" -p "$work" 2>>"$work/lua.err" &
pids+=($!)

# --------------------------------------------------------------- HAProxy
haproxy_port=$(free_port)
cat >"$work/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  timeout http-keep-alive 600s
frontend fe
  bind 127.0.0.1:$haproxy_port
  default_backend be
backend be
  http-reuse always
  server b1 127.0.0.1:$backend_port
CFG
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db 2>>"$work/haproxy.err" &
pids+=($!)

# --------------------------------------------------------------- Portico
# One gateway for the plain, chain and TLS rows; more for the route tables.
portico_config() { # port tls_port [extra routes file]
  cat <<TOML
version = 1
plugin_dir = "$PLUGINS"
[runtime]
cache_dir = "$PWD/target/test-cache"
workers = 1
[observability.metrics]
enabled = true
[[listeners]]
name = "plain"
addr = "127.0.0.1:$1"
[[listeners]]
name = "tls"
addr = "127.0.0.1:$2"
[listeners.tls]
certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
[upstreams.backend]
targets = ["127.0.0.1:$backend_port"]
max_idle_per_target = 64
TOML
}
chain_route() { # name prefix n_transforms
  printf '\n[[routes]]\nname = "%s"\npath = { prefix = "%s" }\nupstream = "backend"\n' "$1" "$2"
  for i in $(seq "$3"); do
    printf '[[routes.plugins]]\nname = "transform"\ncapabilities = ["context"]\nconfig.request.headers.set = { "x-t%s" = "1" }\n' "$i"
  done
}

portico_port=$(free_port); portico_tls=$(free_port); admin_port=$(free_port)
{
  portico_config "$portico_port" "$portico_tls"
  printf '[admin]\naddr = "127.0.0.1:%s"\n' "$admin_port"
  cat <<TOML

[[routes]]
name = "plain"
path = { prefix = "/plain" }
upstream = "backend"

[[routes]]
name = "chain3"
path = { prefix = "/chain3" }
upstream = "backend"
[[routes.plugins]]
name = "api-key"
capabilities = ["context"]
config.keys = [{ sha256 = "$KEY_SHA", consumer = "alice" }]
[[routes.plugins]]
name = "rate-limit"
capabilities = ["kv", "clock", "context", "metrics"]
config.headers = false
config.policies = [{ limit = 1000000, window = "1s" }]
[[routes.plugins]]
name = "transform"
capabilities = ["context"]
config.request.headers.set = { "x-consumer" = "{ctx.consumer}" }
config.response.headers.set = { "x-gateway" = "portico" }
TOML
  for n in 1 3 5 10; do chain_route "t$n" "/t$n" "$n"; done
} >"$work/portico.toml"
RUST_LOG=warn taskset -c 0 "$PORTICO" run --config "$work/portico.toml" 2>"$work/portico.log" &
portico_pid=$!
pids+=($portico_pid)
# PORTICO_BEFORE: another build (an earlier commit) beside this one, for
# before/after ratios in the same run (its config without newer keys).
if [ -n "${PORTICO_BEFORE:-}" ]; then
  before_port=$(free_port); before_tls=$(free_port)
  sed -e "s/127.0.0.1:$portico_port\"/127.0.0.1:$before_port\"/" -e "s/127.0.0.1:$portico_tls\"/127.0.0.1:$before_tls\"/" \
    -e '/^\[admin\]/,+1d' "$work/portico.toml" >"$work/before.toml"
  # PLUGINS_BEFORE: that build's plugins (for example guests built from the
  # same commit), so a change to the guests is in the comparison too.
  if [ -n "${PLUGINS_BEFORE:-}" ]; then
    sed -i "s|^plugin_dir = .*|plugin_dir = \"$PLUGINS_BEFORE\"|" "$work/before.toml"
  fi
  # A build older than `[runtime] workers` refuses the key: only then is it
  # dropped (that build then runs a worker per CPU, all on CPU 0).
  if ! "$PORTICO_BEFORE" check --config "$work/before.toml" >/dev/null 2>&1; then
    sed -i '/^workers = /d' "$work/before.toml"
  fi
  RUST_LOG=warn taskset -c 0 "$PORTICO_BEFORE" run --config "$work/before.toml" 2>"$work/before.log" &
  pids+=($!)
  wait_port "$before_port" /plain
fi

# A second gateway with the same chain, its kv in a local Redis (row redis).
if has_row redis; then
  redis_port=$(free_port); shared_port=$(free_port); shared_tls=$(free_port)
  taskset -c 1 redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  pids+=($!)
  {
    portico_config "$shared_port" "$shared_tls"
    printf '[state]\nbackend = "redis"\n[state.redis]\nurl = "redis://127.0.0.1:%s/0"\n' "$redis_port"
    sed -n '/^name = "chain3"/,/^config.response.headers.set/p' "$work/portico.toml" | sed '1s/^/\n[[routes]]\n/'
  } >"$work/shared.toml"
  RUST_LOG=warn taskset -c 0 "$PORTICO" run --config "$work/shared.toml" 2>"$work/shared.log" &
  pids+=($!)
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$shared_port/" && break; sleep 0.05; done
  curl -fs -o /dev/null -H "x-api-key: $KEY" "http://127.0.0.1:$shared_port/chain3" || { echo "peers: the Redis gateway refused the chain request" >&2; tail "$work/shared.log" >&2; exit 1; }
fi

for port in "$nginx_port" "$haproxy_port"; do wait_port "$port"; done
wait_port "$portico_port" /plain
curl -fs -o /dev/null -H "x-api-key: $KEY" "http://127.0.0.1:$lua_port/" || { echo "peers: nginx+Lua refused the key" >&2; cat "$work/lua.err" >&2; exit 1; }
curl -fs -o /dev/null -H "x-api-key: $KEY" "http://127.0.0.1:$portico_port/chain3" || { echo "peers: Portico refused the chain request" >&2; tail "$work/portico.log" >&2; exit 1; }

# ------------------------------------------------------------ measuring
results="$work/results"   # row round rps
wrk_rps() { # url [header]
  local args=(-t1 "-c$CONNECTIONS" "-d${DURATION}s")
  [ -n "${2:-}" ] && args+=(-H "$2")
  taskset -c 1 wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print $2}'
}
h2_rps() { # url
  taskset -c 1 h2load -c16 -m8 -t1 -D "$DURATION" "$1" 2>/dev/null |
    awk '/^finished in/ {gsub(",", "", $4); print $4}'
}
record() { echo "$1 $2 $3" >>"$results"; }
# Ratio of `row` to `base`, per round, then the median.
ratio() { # row base
  awk -v a="$1" -v b="$2" '$1==a {x[$2]=$3} $1==b {y[$2]=$3} END {for (r in x) if (y[r] > 0) print x[r]/y[r]}' "$results" | median
}
rps_of() { awk -v a="$1" '$1==a {print $3}' "$results" | median; }
table_row() { # label row base
  printf '| %s | %s | %.2f |\n' "$1" "$(printf '%.0f' "$(rps_of "$2")")" "$(ratio "$2" "$3")"
}

echo "peers: $ROUNDS rounds x ${DURATION}s, $CONNECTIONS connections; proxies on CPU 0, backend and load on CPU 1" >&2
# Warm-up: connections, caches, plugin instances.
for url in "http://127.0.0.1:$nginx_port/" "http://127.0.0.1:$portico_port/plain"; do
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
done
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s -H "x-api-key: $KEY" "http://127.0.0.1:$portico_port/chain3" >/dev/null

for round in $(seq "$ROUNDS"); do
  echo "peers: round $round" >&2
  if has_row main; then
    record nginx "$round" "$(wrk_rps "http://127.0.0.1:$nginx_port/")"
    record haproxy "$round" "$(wrk_rps "http://127.0.0.1:$haproxy_port/")"
    record lua "$round" "$(wrk_rps "http://127.0.0.1:$lua_port/" "x-api-key: $KEY")"
    record plain "$round" "$(wrk_rps "http://127.0.0.1:$portico_port/plain")"
    record chain3 "$round" "$(wrk_rps "http://127.0.0.1:$portico_port/chain3" "x-api-key: $KEY")"
    if [ -n "${PORTICO_BEFORE:-}" ]; then
      record before-plain "$round" "$(wrk_rps "http://127.0.0.1:$before_port/plain")"
      record before-chain3 "$round" "$(wrk_rps "http://127.0.0.1:$before_port/chain3" "x-api-key: $KEY")"
    fi
  fi
  if has_row redis; then
    has_row main || record chain3 "$round" "$(wrk_rps "http://127.0.0.1:$portico_port/chain3" "x-api-key: $KEY")"
    record chain3-redis "$round" "$(wrk_rps "http://127.0.0.1:$shared_port/chain3" "x-api-key: $KEY")"
  fi
  if has_row tls; then
    record nginx-tls "$round" "$(wrk_rps "https://127.0.0.1:$nginx_tls/")"
    record portico-tls "$round" "$(wrk_rps "https://127.0.0.1:$portico_tls/plain")"
  fi
  if has_row h2; then
    record nginx-h2c "$round" "$(h2_rps "http://127.0.0.1:$nginx_h2c/")"
    record portico-h2c "$round" "$(h2_rps "http://127.0.0.1:$portico_port/plain")"
    record nginx-h2 "$round" "$(h2_rps "https://127.0.0.1:$nginx_tls/")"
    record portico-h2 "$round" "$(h2_rps "https://127.0.0.1:$portico_tls/plain")"
  fi
  if has_row chains; then
    has_row main || record plain "$round" "$(wrk_rps "http://127.0.0.1:$portico_port/plain")"
    for n in 1 3 5 10; do
      record "t$n" "$round" "$(wrk_rps "http://127.0.0.1:$portico_port/t$n")"
    done
  fi
done

# ---------------------------------------------------------------- routes
if has_row routes; then
  declare -A route_port
  for n in 10 1000 10000; do
    port=$(free_port); tls=$(free_port)
    {
      portico_config "$port" "$tls"
      for i in $(seq "$n"); do
        printf '\n[[routes]]\nname = "r%s"\npath = { prefix = "/r%s/" }\nupstream = "backend"\n' "$i" "$i"
      done
    } >"$work/routes-$n.toml"
    RUST_LOG=warn taskset -c 0 "$PORTICO" run --config "$work/routes-$n.toml" 2>"$work/routes-$n.log" &
    pids+=($!)
    route_port[$n]=$port
    wait_port "$port" "/r$n/x"
  done
  for round in $(seq "$ROUNDS"); do
    for n in 10 1000 10000; do
      record "routes-$n" "$round" "$(wrk_rps "http://127.0.0.1:${route_port[$n]}/r$n/x")"
    done
  done
fi

# ------------------------------------------------------------------ idle
# Opens N keep-alive connections, one request each, and holds them; prints
# "ready" once all responses arrived, then waits for stdin to close.
cat >"$work/idle.py" <<'PY'
import socket, sys
port, n, proto, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def h2_request(path):
    # Preface, empty SETTINGS, HEADERS (END_STREAM|END_HEADERS) on stream 1:
    # :method GET, :scheme http, :path (literal), :authority (literal).
    def lit(index, value):
        return bytes([0x00 | index if index < 16 else 0]) + bytes([len(value)]) + value
    block = b"\x82\x86" + lit(4, path.encode()) + lit(1, b"127.0.0.1")
    frame = lambda t, f, s, p: len(p).to_bytes(3, "big") + bytes([t, f]) + s.to_bytes(4, "big") + p
    return b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(4, 1, 0, b"") + frame(1, 5, 1, block)
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if proto == "h1":
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        got = b""
        while b"hello from backend!" not in got:
            chunk = s.recv(4096)
            if not chunk: raise SystemExit("connection %d closed" % i)
            got += chunk
    else:
        s.sendall(h2_request(path))
        got = b""
        while b"hello from backend!" not in got:
            chunk = s.recv(65536)
            if not chunk: raise SystemExit("h2 connection %d closed" % i)
            got += chunk
    socks.append(s)
print("ready", flush=True)
sys.stdin.read()
PY
idle_cost() { # pid port proto path -> bytes per connection
  local before after
  before=$(rss_kib "$1")
  coproc IDLE { python3 "$work/idle.py" "$2" "$IDLE_CONNECTIONS" "$3" "$4"; }
  local ready
  read -r ready <&"${IDLE[0]}" || true
  sleep 1
  after=$(rss_kib "$1")
  eval "exec ${IDLE[1]}>&-"
  wait "$IDLE_PID" 2>/dev/null || true
  sleep 1
  awk -v a="$after" -v b="$before" -v n="$IDLE_CONNECTIONS" 'BEGIN {printf "%.2f", (a-b)/n}'
}

# Each idle row gets a process of its own, started for it: memory freed by
# earlier rows (or by the load rows) would otherwise be reused and hide the
# cost. nginx: its benchmark config on new ports; Portico: one plain route.
idle_fresh() { # nginx|portico h1|h2 -> KiB per connection
  local port tls h2c pid cost
  port=$(free_port); tls=$(free_port); h2c=$(free_port)
  if [ "$1" = nginx ]; then
    sed -e "s/127.0.0.1:$nginx_port /127.0.0.1:$port /" -e "s/127.0.0.1:$nginx_tls /127.0.0.1:$tls /" \
      -e "s/127.0.0.1:$nginx_h2c /127.0.0.1:$h2c /" -e "s#pid $work/nginx.pid#pid $work/idle-nginx.pid#" \
      "$work/nginx.conf" >"$work/idle-nginx.conf"
    taskset -c 0 nginx -c "$work/idle-nginx.conf" -p "$work" 2>>"$work/nginx.err" &
    local master=$!
    wait_port "$port" >&2
    [ "$2" = h2 ] && port=$h2c
    cost=$(idle_cost "$(nginx_worker "$work/idle-nginx.pid")" "$port" "$2" /)
    kill "$master"; wait "$master" 2>/dev/null || true
  else
    { portico_config "$port" "$tls"; printf '\n[[routes]]\nname = "plain"\npath = { prefix = "/plain" }\nupstream = "backend"\n'; } >"$work/idle-portico.toml"
    RUST_LOG=warn taskset -c 0 "$PORTICO" run --config "$work/idle-portico.toml" 2>>"$work/portico.log" &
    pid=$!
    wait_port "$port" /plain >&2
    cost=$(idle_cost "$pid" "$port" "$2" /plain)
    kill "$pid"; wait "$pid" 2>/dev/null || true
  fi
  echo "$cost"
}

# ------------------------------------------------------------- latency
# Open-loop: a fixed request rate, latency measured from each request's
# scheduled send time (no coordinated omission).
latency_rows=()
if has_row latency; then
  max=$(rps_of nginx)
  [ "$max" = nan ] && max=$(wrk_rps "http://127.0.0.1:$nginx_port/")
  rate=$(awk -v m="$max" 'BEGIN {printf "%d", m/2}')
  for target in "nginx http://127.0.0.1:$nginx_port/" "portico http://127.0.0.1:$portico_port/plain" "backend http://127.0.0.1:$backend_port/"; do
    set -- $target
    out=$(taskset -c 1 "$LOADGEN" --url "$2" --rate "$rate" --connections "$CONNECTIONS" --seconds "$DURATION")
    latency_rows+=("$1 $out")
  done
fi

# --------------------------------------------------------------- phases
# p50 and p99 of `portico_plugin_call_duration_seconds` over one load
# window (the difference of two scrapes), interpolated within buckets.
cat >"$work/phases.py" <<'PY'
import re, sys
def scrape(path):
    hist = {}
    for line in open(path):
        m = re.match(r'portico_plugin_call_duration_seconds_bucket\{(.*)\} (\S+)', line)
        if not m: continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("route") != "chain3": continue
        key = (labels["plugin"], labels["phase"])
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        hist.setdefault(key, {})[le] = float(m.group(2))
    return hist
before, after = scrape(sys.argv[1]), scrape(sys.argv[2])
def quantile(buckets, q):
    edges = sorted(buckets)
    total = buckets[edges[-1]]
    if total <= 0: return float("nan")
    prev_le, prev_n = 0.0, 0.0
    for le in edges:
        n = buckets[le]
        if n >= q * total:
            if le == float("inf"): return prev_le
            return prev_le + (le - prev_le) * (q * total - prev_n) / max(n - prev_n, 1e-9)
        prev_le, prev_n = le, n
    return edges[-1]
print("| plugin | phase | calls | p50 | p99 |")
print("|---|---|---|---|---|")
for key in sorted(after):
    diff = {le: n - before.get(key, {}).get(le, 0) for le, n in after[key].items()}
    calls = diff[max(diff)]
    if calls <= 0:
        # A phase the plugin said it does not need (response phase `skip`).
        print("| %s | %s | 0 (not called) | — | — |" % (key[0], key[1]))
        continue
    print("| %s | %s | %d | %.1f µs | %.1f µs |" % (key[0], key[1], calls, quantile(diff, 0.5) * 1e6, quantile(diff, 0.99) * 1e6))
PY
phase_lines=""
if has_row phases; then
  curl -fs "http://127.0.0.1:$admin_port/metrics" >"$work/metrics-before"
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "x-api-key: $KEY" "http://127.0.0.1:$portico_port/chain3" >/dev/null
  curl -fs "http://127.0.0.1:$admin_port/metrics" >"$work/metrics-after"
  phase_lines=$(python3 "$work/phases.py" "$work/metrics-before" "$work/metrics-after")
fi

# ------------------------------------------------------------------ soak
soak_line=""
if has_row soak; then
  (taskset -c 1 wrk -t1 -c64 -d"${SOAK_S}s" -H "x-api-key: $KEY" "http://127.0.0.1:$portico_port/chain3" >"$work/soak.out") &
  soak=$!
  sleep 60; at_1m=$(rss_kib "$portico_pid")
  wait "$soak"; at_end=$(rss_kib "$portico_pid")
  soak_line=$(awk -v a="$at_1m" -v b="$at_end" -v s="$SOAK_S" 'BEGIN {printf "| RSS at full load (3-plugin chain, 64 connections) | %.1f MB after 60 s | %.1f MB after %d s | %.2f× |", a/1024, b/1024, s, b/a}')
fi

# ----------------------------------------------------------------- table
echo
echo "Peer benchmark: $ROUNDS interleaved rounds of ${DURATION}s, wrk -t1 -c$CONNECTIONS (h2load -c16 -m8), proxies pinned to CPU 0, backend and load to CPU 1; ratio = median of per-round ratios."
if has_row main; then
  echo
  echo "| contender | req/s (median) | ratio to nginx |"
  echo "|---|---|---|"
  table_row "nginx \`proxy_pass\`, upstream keepalive 64" nginx nginx
  table_row "HAProxy (nbthread 1, http-reuse always)" haproxy nginx
  table_row "nginx + Lua: key auth, per-second counter in a shared dict, header set each way" lua nginx
  table_row "Portico, route without plugins" plain nginx
  table_row "Portico, \`api-key\` → \`rate-limit\` → \`transform\`" chain3 nginx
  if [ -n "${PORTICO_BEFORE:-}" ]; then
    table_row "Portico before (\`$PORTICO_BEFORE\`), no plugins" before-plain nginx
    table_row "Portico before, 3-plugin chain" before-chain3 nginx
  fi
  echo
  printf 'Portico 3-plugin chain: %.2f× its own plain path, %.2f× nginx+Lua.\n' "$(ratio chain3 plain)" "$(ratio chain3 lua)"
fi
if has_row redis; then
  echo
  echo "| 3-plugin chain, rate-limit counters | req/s (median) | ratio to in memory |"
  echo "|---|---|---|"
  table_row "in this gateway's memory" chain3 chain3
  table_row "in a local redis-server (\`[state] backend = \"redis\"\`)" chain3-redis chain3
fi
if has_row tls || has_row h2; then
  echo
  echo "| protocol | nginx req/s | Portico req/s | Portico / nginx |"
  echo "|---|---|---|---|"
  has_row tls && printf '| TLS 1.3 termination, HTTP/1.1 keep-alive (wrk) | %.0f | %.0f | %.2f |\n' "$(rps_of nginx-tls)" "$(rps_of portico-tls)" "$(ratio portico-tls nginx-tls)"
  if has_row h2; then
    printf '| HTTP/2 cleartext (h2c) | %.0f | %.0f | %.2f |\n' "$(rps_of nginx-h2c)" "$(rps_of portico-h2c)" "$(ratio portico-h2c nginx-h2c)"
    printf '| HTTP/2 over TLS (ALPN h2) | %.0f | %.0f | %.2f |\n' "$(rps_of nginx-h2)" "$(rps_of portico-h2)" "$(ratio portico-h2 nginx-h2)"
  fi
fi
if has_row chains; then
  echo
  echo "| transform plugins in the chain | req/s | µs of CPU 0 per request | added per plugin vs plain |"
  echo "|---|---|---|---|"
  base=$(rps_of plain)
  printf '| 0 | %.0f | %.1f | — |\n' "$base" "$(awk -v r="$base" 'BEGIN {print 1e6/r}')"
  for n in 1 3 5 10; do
    r=$(rps_of "t$n")
    printf '| %s | %.0f | %.1f | %.2f µs |\n' "$n" "$r" "$(awk -v r="$r" 'BEGIN {print 1e6/r}')" "$(awk -v r="$r" -v b="$base" -v n="$n" 'BEGIN {print (1e6/r - 1e6/b)/n}')"
  done
fi
if has_row routes; then
  echo
  echo "| prefix routes in the table (last one requested) | req/s | ratio to 10 routes |"
  echo "|---|---|---|"
  for n in 10 1000 10000; do
    printf '| %s | %.0f | %.2f |\n' "$n" "$(rps_of "routes-$n")" "$(ratio "routes-$n" routes-10)"
  done
fi
if has_row idle; then
  echo
  echo "| idle keep-alive connection ($IDLE_CONNECTIONS open, one request each; a fresh process per row) | KiB of RSS per connection |"
  echo "|---|---|"
  printf '| nginx, HTTP/1.1 | %s |\n' "$(idle_fresh nginx h1)"
  printf '| Portico, HTTP/1.1 | %s |\n' "$(idle_fresh portico h1)"
  printf '| nginx, HTTP/2 (h2c) | %s |\n' "$(idle_fresh nginx h2)"
  printf '| Portico, HTTP/2 (h2c) | %s |\n' "$(idle_fresh portico h2)"
fi
if [ ${#latency_rows[@]} -gt 0 ]; then
  echo
  echo "| fixed rate $rate req/s, $CONNECTIONS connections | p50 | p99 | added p50 | added p99 |"
  echo "|---|---|---|---|---|"
  direct=$(printf '%s\n' "${latency_rows[@]}" | awk '$1=="backend"')
  for row in "${latency_rows[@]}"; do
    awk -v d="$direct" 'BEGIN {split(d, b, " ")} {printf "| %s | %.0f µs | %.0f µs | %.0f µs | %.0f µs |\n", $1, $2, $3, $2-b[2], $3-b[3]}' <<<"$row"
  done
  awk -v rows="$(printf '%s;' "${latency_rows[@]}")" 'BEGIN {
    n = split(rows, r, ";"); for (i = 1; i <= n; i++) { split(r[i], f, " "); p50[f[1]] = f[2]; p99[f[1]] = f[3] }
    printf "\nAdded latency, Portico / nginx: p50 %.2f×, p99 %.2f×.\n", (p50["portico"]-p50["backend"])/(p50["nginx"]-p50["backend"]), (p99["portico"]-p99["backend"])/(p99["nginx"]-p99["backend"]) }'
fi
if [ -n "$phase_lines" ]; then
  echo
  echo "Per-plugin phase cost under load (the gateway's own histograms, chain3, $CONNECTIONS connections):"
  echo
  echo "$phase_lines"
fi
if [ -n "$soak_line" ]; then
  echo
  echo "| soak | early | late | late / early |"
  echo "|---|---|---|---|"
  echo "$soak_line"
fi
