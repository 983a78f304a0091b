#!/usr/bin/env bash
# Load benchmark: a plain nginx proxy hop vs a macaroon-proxy hop (and a mitmproxy hop with a
# pymacaroons addon), side by side, one run.
#
#   bash bench/proxy.sh [SECONDS]          # SECONDS per wrk run, default 5
#
# Everything runs on 127.0.0.1 in a throwaway directory and every process started here
# is stopped on exit (by its pid). Installs nginx, wrk, hyperfine and socat with apt-get
# if missing (needs root), and mitmproxy, pymacaroons and pynacl with pip into a virtualenv
# ($MITM_VENV; if that fails the mitmproxy rows are skipped, not the run), builds the release
# binaries (`cargo build --release --bins`, honouring CARGO_TARGET_DIR), then measures:
#
#   keep-alive   wrk -c$CONNS: direct to the TLS upstream, through an nginx hop that
#                injects a fixed Authorization header (the baseline), through our hop
#                (reverse mode), and through mitmproxy (mitmdump in reverse mode with
#                bench/mitm_addon.py: what a Python user would build, verifying with
#                pymacaroons and swapping the header): requests/s, p50, p99, hop CPU per
#                request, peak RSS
#   latency      the same four with one connection (-c1): the latency a hop adds when
#                it is not saturated
#   new-conn     the same three with `Connection: close` (a new client connection each
#                request; the hops keep their upstream pools; not mitmproxy, which keeps
#                none: each client connection opens its own upstream connection)
#   connect      our CONNECT-intercepting mode vs a blind CONNECT tunnel (--passthrough);
#                wrk reaches the proxy's CONNECT through socat (the same bridge for both)
#   handshake    curl timings: TLS handshake through interception with a new leaf
#                certificate vs a cached one vs a blind tunnel vs direct
#   idle         RSS with IDLE_CONNS (1000) open keep-alive client connections
#   attenuate    hyperfine of `macaroon attenuate` (process start to exit)
#   counted      the cost of usage and rate caveats: our hop with --state on a local
#                redis-server, the token plus `uses <= 1000000000000` and `rate <=
#                100000/1s` (both always satisfied: every request is charged, none refused)
#                vs the same token without them on the same proxy, and the counted token
#                with the embedded store (no --state); keep-alive CONNS and one connection
#                (p99). Not in the default ONLY: ONLY=counted (installs redis-server).
#   wide         keep-alive with WIDE_CONNS (256) connections: direct, nginx hop, our hop
#   features     what each optional feature costs, each against the same build without it:
#                body caveats (a token with `json` caveats, POST of a 4 KiB JSON body read
#                and checked, vs the same token without them, the body streamed), and
#                response scrubbing on 1 MiB responses (BIG_CONNS=4 connections; against a
#                build with the bench-only cargo feature `bench-no-scrub`, built here
#                unless NOSCRUB_BIN names one; run with MACAROON_BENCH_NO_SCRUB=1, without which
#                such a build refuses to start). Counting is `counted`.
#                Not in the default ONLY.
#
# Every request is `GET /v1/charges` with `Authorization: Bearer TOKEN`, TOKEN being a
# root token narrowed with CAVEATS first-party caveats (default 10, the same mix as the
# criterion bench: time, method, path prefix/glob, host; all satisfied). The mitmproxy hop is
# sent a comparable pymacaroons token instead: same caveats, same identifier length, signed
# with a root key the addon is given (it does not open our sealed identifier).
#
# Knobs (environment): CONNS=32 THREADS=1 CAVEATS=10 ROUNDS=1 (interleaved repeats; medians
# are reported) IDLE_CONNS=1000 SKIP_BUILD=1 (use existing binaries) KEEP=1 (keep the work
# directory) RESULTS_OUT=FILE (copy the raw results there) NO_MITM=1 (skip mitmproxy)
# MITM_VENV=DIR (default ~/.cache/macaroon-bench/mitmproxy-venv) MITMDUMP=PATH MITM_PY=PYTHON
# (use this mitmdump, whose Python has pymacaroons, and this Python, instead of the virtualenv)
# BEFORE_BIN=PATH (another macaroon-proxy binary, e.g. an earlier commit's, run as one more
# configuration "before" in the keep-alive, latency and new-connection scenarios)
# BEFORE_CLI=PATH (that commit's `macaroon`, to mint the "before" token when the token format
# changed in between: same caveats, same home and proxy key)
# PEERS=1 (one more hop in the keep-alive, latency, new-connection and wide scenarios: nono's
# credential proxy, `nono proxy` with a custom credential and endpoint rules; bench/nono.sh
# says how it is set up and how it compares; installed with `cargo install nono-cli` into
# ~/.cache/macaroon-bench/nono, bounded by NONO_INSTALL_TIMEOUT=2400 s; if that or its check
# fails the nono rows are skipped, not the run) NONO_VERSION=0.81.0 NONO_ROOT=DIR
# ONLY="keepalive latency newconn connect handshake idle attenuate".
# BENCH_PATH=/v1/small or /v1/big (JSON bodies of ~200 bytes and 1 MiB; default /v1/charges,
# 64 bytes of text): the path the keep-alive, latency and new-connection runs request.
set -euo pipefail

DURATION=${1:-${DURATION:-5}}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-1}
CAVEATS=${CAVEATS:-10}
IDLE_CONNS=${IDLE_CONNS:-1000}
ONLY=${ONLY:-"keepalive latency newconn connect handshake idle attenuate"}
WIDE_CONNS=${WIDE_CONNS:-256}
BIG_CONNS=${BIG_CONNS:-4}
SECRET="sk_test_BENCH_0123456789abcdef0123456789"

cd "$(dirname "$0")/.."
REPO=$(pwd)
BENCH="$REPO/bench"

log() { printf '[bench] %s\n' "$*" >&2; }
want() { [[ " $ONLY " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v socat >/dev/null || need+=(socat)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
[[ " $ONLY " == *" counted "* ]] && { command -v redis-server >/dev/null || need+=(redis-server); }
if ((${#need[@]})); then
  log "installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [[ -z "${SKIP_BUILD:-}" ]]; then
  log "cargo build --release --bins"
  cargo build --release --bins --quiet
fi
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release"
[[ -x "$BIN/macaroon-proxy" && -x "$BIN/macaroon" ]] || { log "no binaries in $BIN"; exit 2; }

# ---------------------------------------------------------------- processes and cleanup
WORK=$(mktemp -d /tmp/macaroon-bench.XXXXXX)
PIDS=()
stop_pid() { # stop one process we started, and children it forked (socat), by pid
  local pid=$1 kids
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill -TERM "$pid" $kids 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" $kids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n "${KEEP:-}" ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
forget_pid() { local p=$1 a=(); for x in "${PIDS[@]}"; do [[ $x == "$p" ]] || a+=("$x"); done; PIDS=("${a[@]}"); }

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT [TRIES of 0.1 s]
  for _ in $(seq "${2:-100}"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on 127.0.0.1:$1"; return 1
}
# Peak and current RSS (kB) and CPU ticks, summed over a pid and its children.
pids_of() { echo "$1"; ps -o pid= --ppid "$1" 2>/dev/null || true; }
status_kb() { local f=$2 t=0 v; for p in $(pids_of "$1"); do v=$(awk -v f="$f:" '$1==f{print $2}' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + ${v:-0})); done; echo $t; }
cpu_ticks() { # "USER SYS" clock ticks
  local u=0 s=0 a b; for p in $(pids_of "$1"); do
    read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null || echo 0 0); u=$((u + ${a:-0})); s=$((s + ${b:-0}))
  done; echo "$u $s"; }
CLK_TCK=$(getconf CLK_TCK)
ulimit -n 65536 2>/dev/null || true

log "work directory $WORK"
cd "$WORK"

# ---------------------------------------------------------------- mitmproxy (Python baseline)
# In a virtualenv: installing mitmproxy into the system Python downgrades packages that
# others there depend on (h11, cryptography).
MITM_VENV=${MITM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/macaroon-bench/mitmproxy-venv}
MITM_SCENARIOS="keepalive latency"
if [[ -n "${NO_MITM:-}" ]] || ! { want keepalive || want latency; }; then
  MITMDUMP=""
elif [[ -n "${MITMDUMP:-}" ]]; then
  MITM_PY=${MITM_PY:-python3}
else
  MITMDUMP="$MITM_VENV/bin/mitmdump" MITM_PY="$MITM_VENV/bin/python"
  if ! [[ -x "$MITMDUMP" ]] || ! "$MITM_PY" -c 'import pymacaroons, nacl' 2>/dev/null; then
    log "installing mitmproxy, pymacaroons, pynacl with pip into $MITM_VENV"
    if ! { python3 -m venv "$MITM_VENV" &&
      "$MITM_PY" -m pip install -q --disable-pip-version-check mitmproxy pymacaroons pynacl; } >"$WORK/pip.log" 2>&1; then
      log "pip install failed ($(tail -1 "$WORK/pip.log")): skipping the mitmproxy rows"
      MITMDUMP=""
    fi
  fi
fi
if [[ -n "$MITMDUMP" ]]; then
  MITM_VERSION=$("$MITMDUMP" --version 2>/dev/null | sed -n 's/^Mitmproxy: *//p' || true)
  [[ -n "$MITM_VERSION" ]] || { log "$MITMDUMP does not run: skipping the mitmproxy rows"; MITMDUMP=""; }
fi

# ---------------------------------------------------------------- certificates
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench upstream CA" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=api.example.test" -keyout leaf.key -out leaf.csr 2>/dev/null
printf '%s\n' "subjectAltName=DNS:api.example.test,DNS:blind.example.test,IP:127.0.0.1" \
  "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile leaf.ext -out leaf.pem 2>/dev/null

# ---------------------------------------------------------------- upstream nginx (TLS)
UP=$(freeport)
mkdir -p up/logs
cat > up/nginx.conf <<EOF
worker_processes 1;
pid $WORK/up/nginx.pid;
error_log $WORK/up/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/up/tmp; proxy_temp_path $WORK/up/tmp;
  fastcgi_temp_path $WORK/up/tmp; uwsgi_temp_path $WORK/up/tmp; scgi_temp_path $WORK/up/tmp;
  server {
    listen 127.0.0.1:$UP ssl;
    ssl_certificate $WORK/leaf.pem;
    ssl_certificate_key $WORK/leaf.key;
    default_type text/plain;
    location = /v1/check { return 200 "authorization=\$http_authorization\nsni=\$ssl_server_name\n"; }
    location = /v1/big { default_type application/json; alias $WORK/up/big.json; }
    location = /v1/small { default_type application/json; alias $WORK/up/small.json; }
    location / { return 200 "ok: a small upstream body, 64 bytes long, for the benchmark..\n"; }
  }
}
EOF
mkdir -p up/tmp
# Response bodies for the scrubbing cost: 1 MiB and ~300 bytes of JSON without the secret.
python3 -c "import json,sys; sys.stdout.write(json.dumps({'data':[{'id':'ch_%06d'%i,'amount':i} for i in range(30000)]})[:1<<20])" > up/big.json
printf '{"id":"ch_123","object":"charge","amount":2000,"currency":"usd","status":"succeeded","metadata":{"order":"6735"},"description":"a small JSON response of a few hundred bytes, like most API answers"}' > up/small.json
# nginx's workers run as another user: let them read these two files.
chmod a+x "$WORK" "$WORK/up"; chmod a+r up/big.json up/small.json
"$NGINX" -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' 2>>"$WORK/up/error.log" &
UP_PID=$!; PIDS+=("$UP_PID")
wait_port "$UP"

# ---------------------------------------------------------------- nginx hop (baseline)
HOP=$(freeport)
mkdir -p hop/tmp
cat > hop/nginx.conf <<EOF
worker_processes $(nproc);
pid $WORK/hop/nginx.pid;
error_log $WORK/hop/error.log warn;
events { worker_connections 8192; }
http {
  access_log /dev/null;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/hop/tmp; proxy_temp_path $WORK/hop/tmp;
  fastcgi_temp_path $WORK/hop/tmp; uwsgi_temp_path $WORK/hop/tmp; scgi_temp_path $WORK/hop/tmp;
  upstream api { server 127.0.0.1:$UP; keepalive 1024; }
  server {
    listen 127.0.0.1:$HOP;
    location / {
      proxy_pass https://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host api.example.test;
      proxy_set_header Authorization "Bearer $SECRET";
      proxy_ssl_server_name on;
      proxy_ssl_name api.example.test;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate $WORK/ca.pem;
      proxy_ssl_session_reuse on;
    }
  }
}
EOF
start_nginx_hop() {
  "$NGINX" -p "$WORK/hop" -c "$WORK/hop/nginx.conf" -g 'daemon off;' 2>>"$WORK/hop/error.log" &
  HOP_PID=$!; PIDS+=("$HOP_PID")
  wait_port "$HOP"
}

# ---------------------------------------------------------------- our proxy
export MACAROON_HOME="$WORK/home" MACAROON_STORE=file
"$BIN/macaroon-proxy" keygen >/dev/null 2>&1
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
now=$(date +%s)
# mint CLI NAME: wraps the key with that `macaroon` and narrows it with CAVEATS caveats.
mint() {
  local cli=$1 t c i
  t=$(printf %s "$SECRET" | "$cli" wrap "$2" --host api.example.test 2>/dev/null)
  for ((i = 0; i < CAVEATS; i++)); do
    case $((i % 8)) in
      0) c="time < $(utc $((now + 3600 + 60 * i)))" ;;
      1) c="method in GET HEAD" ;;
      2) c="path prefix /v1 /v$((2 + i))" ;;
      3) c="host = api.example.test" ;;
      4) c="time > $(utc $((now - 3600 - i)))" ;;
      5) c="path glob /v1/* /v2/*/refunds" ;;
      6) c="method = GET" ;;
      *) c="host in api.example.test api2.example.test" ;;
    esac
    t=$("$cli" attenuate "$t" --caveat "$c")
  done
  printf %s "$t"
}
TOKEN=$(mint "$BIN/macaroon" bench)
log "token: ${#TOKEN} characters, $CAVEATS caveats"
BEFORE_TOKEN=$TOKEN
if [[ -n "${BEFORE_CLI:-}" ]]; then
  BEFORE_TOKEN=$(mint "$BEFORE_CLI" bench-before)
  log "before token: ${#BEFORE_TOKEN} characters, minted by $BEFORE_CLI"
fi
if [[ -n "$MITMDUMP" ]]; then
  # The mitmproxy baseline does not open our sealed identifier: it is given the root key and
  # the real key, and is sent a comparable token minted with pymacaroons (same caveats, same
  # identifier length, random identifier text) under that root key.
  export MITM_ROOT_KEY MITM_SECRET="$SECRET" MITM_API_HOST=api.example.test
  MITM_ROOT_KEY=$(openssl rand -hex 32)
  if MITM_TOKEN=$("$MITM_PY" "$BENCH/mitm_addon.py" mint "$TOKEN" 2>>"$WORK/mitm.log"); then
    log "mitmproxy $MITM_VERSION, token: ${#MITM_TOKEN} characters"
    printf 'meta\tmitmproxy\t1\tversion=%s token_chars=%s\n' "$MITM_VERSION" "${#MITM_TOKEN}" >> "$WORK/meta.tsv"
  else
    log "minting the pymacaroons token failed ($(tail -1 "$WORK/mitm.log")): skipping the mitmproxy rows"
    MITMDUMP=""
  fi
fi
PROXY=$(freeport)
start_ours() { # start_ours [extra run flags...]
  # A bench-no-scrub build refuses to start unless MACAROON_BENCH_NO_SCRUB=1.
  MACAROON_BENCH_NO_SCRUB=${MACAROON_BENCH_NO_SCRUB:-} "${OURS_BIN:-$BIN/macaroon-proxy}" run --listen "127.0.0.1:$PROXY" --audit-log /dev/null \
    --upstream-ca "$WORK/ca.pem" --resolve "api.example.test=127.0.0.1:$UP" \
    --resolve "blind.example.test=127.0.0.1:$UP" "$@" 2>>"$WORK/proxy.log" &
  OURS_PID=$!; PIDS+=("$OURS_PID")
  wait_port "$PROXY"
}
MITM=$(freeport)
start_mitm() {
  "$MITMDUMP" --mode "reverse:https://127.0.0.1:$UP/" --listen-host 127.0.0.1 --listen-port "$MITM" -q \
    --set confdir="$WORK/mitm" --set ssl_verify_upstream_trusted_ca="$WORK/ca.pem" \
    -s "$BENCH/mitm_addon.py" >>"$WORK/mitm.log" 2>&1 &
  MITM_PID=$!; PIDS+=("$MITM_PID")
  wait_port "$MITM" 300
}
stop() { stop_pid "$1"; forget_pid "$1"; }

# Sanity: all paths answer 200, and the hops put the real key upstream.
start_nginx_hop; start_ours
check_ok() { # check_ok NAME URL EXPECT [TOKEN]: 0 if the answer contains EXPECT
  local got
  got=$(curl -sS --max-time 5 --cacert "$WORK/ca.pem" --resolve "api.example.test:$UP:127.0.0.1" \
    -H "Authorization: Bearer ${4:-$TOKEN}" "$2" 2>&1 || true)
  [[ "$got" == *"$3"* ]] || { log "sanity check failed for $1: got '${got:0:200}'"; return 1; }
}
check() { check_ok "$@" || exit 1; }
check direct "https://api.example.test:$UP/v1/check" "authorization=Bearer $TOKEN"
check nginx "http://127.0.0.1:$HOP/v1/check" "authorization=Bearer $SECRET"
# The upstream echoes the key it got; our hop scrubs it on the way back (stars of its
# length), so the echo shows the key arrived without handing it to the client.
check ours "http://127.0.0.1:$PROXY/v1/check" "authorization=Bearer ${SECRET//?/*}"
stop "$HOP_PID"; stop "$OURS_PID"
if [[ -n "$MITMDUMP" ]]; then
  # The real key upstream, over TLS to the API's name; our token (another root key) refused.
  if start_mitm &&
    check_ok mitmproxy "http://127.0.0.1:$MITM/v1/check" "authorization=Bearer $SECRET"$'\n'"sni=api.example.test" "$MITM_TOKEN" &&
    check_ok "mitmproxy (foreign token)" "http://127.0.0.1:$MITM/v1/check" "forbidden" "$TOKEN"; then
    stop "$MITM_PID"
  else
    log "skipping the mitmproxy rows (see $WORK/mitm.log; KEEP=1 keeps it)"
    [[ -n "${MITM_PID:-}" ]] && stop "$MITM_PID"
    MITMDUMP=""
  fi
fi

# ---------------------------------------------------------------- peers (PEERS=1)
NONO_BIN=""
if [[ -n "${PEERS:-}" ]] && { want keepalive || want latency || want newconn || want wide; }; then
  # shellcheck source=bench/nono.sh
  source "$BENCH/nono.sh"
fi

# ---------------------------------------------------------------- wrk runs
RESULTS="$WORK/results.tsv"
cat "$WORK/meta.tsv" > "$RESULTS" 2>/dev/null || : > "$RESULTS"
# run_wrk SCENARIO CONFIG ROUND PID URL CONNS THREADS [extra wrk args...]
run_wrk() {
  local scenario=$1 config=$2 round=$3 pid=$4 url=$5 conns=$6 threads=$7; shift 7
  local out="$WORK/wrk.$scenario.$config.$round.txt" u0 s0 u1 s1 line
  read -r u0 s0 < <(cpu_ticks "$pid")
  timeout $((DURATION + 30)) wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency \
    -s "${WRK_SCRIPT:-$BENCH/wrk_report.lua}" -H "Authorization: Bearer ${RUN_TOKEN:-$TOKEN}" "$@" "$url" > "$out" 2>&1 || true
  read -r u1 s1 < <(cpu_ticks "$pid")
  line=$(grep '^RESULT' "$out" || echo "RESULT requests=0 failed=1")
  printf '%s\t%s\t%s\t%s cpu_ticks=%s user_ticks=%s sys_ticks=%s clk_tck=%s hwm_kb=%s rss_kb=%s\n' \
    "$scenario" "$config" "$round" "${line#RESULT }" $((u1 - u0 + s1 - s0)) $((u1 - u0)) $((s1 - s0)) "$CLK_TCK" \
    "$(status_kb "$pid" VmHWM)" "$(status_kb "$pid" VmRSS)" >> "$RESULTS"
  log "$scenario/$config#$round: $(sed -n 's/^RESULT //p' "$out" | cut -d' ' -f1-6)"
}

three_way() { # three_way SCENARIO CONNS THREADS [wrk args] (and mitmproxy in MITM_SCENARIOS, nono)
  local scenario=$1 conns=$2 threads=$3; shift 3
  for r in $(seq "$ROUNDS"); do
    run_wrk "$scenario" direct "$r" "$UP_PID" "https://127.0.0.1:$UP${BENCH_PATH:-/v1/charges}" "$conns" "$threads" -H "Host: api.example.test" "$@"
    start_nginx_hop
    run_wrk "$scenario" nginx "$r" "$HOP_PID" "http://127.0.0.1:$HOP${BENCH_PATH:-/v1/charges}" "$conns" "$threads" "$@"
    stop "$HOP_PID"
    start_ours
    run_wrk "$scenario" ours "$r" "$OURS_PID" "http://127.0.0.1:$PROXY${BENCH_PATH:-/v1/charges}" "$conns" "$threads" "$@"
    stop "$OURS_PID"
    if [[ -n "${BEFORE_BIN:-}" ]]; then
      OURS_BIN=$BEFORE_BIN start_ours
      RUN_TOKEN=$BEFORE_TOKEN run_wrk "$scenario" before "$r" "$OURS_PID" "http://127.0.0.1:$PROXY${BENCH_PATH:-/v1/charges}" "$conns" "$threads" "$@"
      stop "$OURS_PID"
    fi
    if [[ -n "$MITMDUMP" && " $MITM_SCENARIOS " == *" $scenario "* ]]; then
      start_mitm
      RUN_TOKEN=$MITM_TOKEN run_wrk "$scenario" mitmproxy "$r" "$MITM_PID" "http://127.0.0.1:$MITM${BENCH_PATH:-/v1/charges}" "$conns" "$threads" "$@"
      stop "$MITM_PID"
    fi
    if [[ -n "$NONO_BIN" ]]; then
      nono_run "$scenario" "$r" "$conns" "$threads" "$@"
    fi
  done
}

want keepalive && three_way keepalive "$CONNS" "$THREADS"
want latency && three_way latency 1 1
want newconn && three_way newconn "$CONNS" "$THREADS" -H "Connection: close"
want wide && three_way wide "$WIDE_CONNS" "$THREADS"

if want counted; then
  # The same proxy binary and token, with and without the two counted caveats; Redis on
  # loopback with persistence off (as a cache-like counter store is usually run).
  REDIS_PORT=$(freeport)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!; PIDS+=("$REDIS_PID"); wait_port "$REDIS_PORT"
  COUNTED_TOKEN=$("$BIN/macaroon" attenuate "$TOKEN" --uses 1000000000000 --rate 100000/1s)
  for r in $(seq "$ROUNDS"); do
    for conns in "$CONNS" 1; do
      sc=counted; [[ $conns == 1 ]] && sc=counted_latency
      start_ours --state "redis://127.0.0.1:$REDIS_PORT/0"
      check ours-counted "http://127.0.0.1:$PROXY/v1/check" "authorization=Bearer" "$COUNTED_TOKEN"
      run_wrk "$sc" plain "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/charges" "$conns" 1
      RUN_TOKEN=$COUNTED_TOKEN run_wrk "$sc" redis "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/charges" "$conns" 1
      stop "$OURS_PID"
      if [[ -n "${BEFORE_BIN:-}" ]]; then
        OURS_BIN=$BEFORE_BIN start_ours --state "redis://127.0.0.1:$REDIS_PORT/0"
        RUN_TOKEN=$COUNTED_TOKEN run_wrk "$sc" redis_before "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/charges" "$conns" 1
        stop "$OURS_PID"
      fi
      start_ours
      RUN_TOKEN=$COUNTED_TOKEN run_wrk "$sc" embedded "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/charges" "$conns" 1
      stop "$OURS_PID"
    done
  done
fi

if want features; then
  # Body caveats: POST /v1/charges with a 4 KiB JSON body. Both tokens allow POST under
  # /v1; the checked one adds two `json` caveats, so the proxy reads the body (up to
  # --max-body), checks it, and sends exactly what it checked.
  python3 - "$WORK/post4k.lua" "$BENCH/wrk_report.lua" <<'PY'
import json, sys
msgs = [{"role": "user", "content": "x" * 90} for _ in range(30)]
body = json.dumps({"model": "gpt-4o-mini", "max_tokens": 512, "messages": msgs})
body = body[:-1] + ', "pad": "' + "p" * (4096 - len(body) - 11) + '"}'
assert len(body) == 4096, len(body)
open(sys.argv[1][:-4] + ".json", "w").write(body)
with open(sys.argv[1], "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    f.write("wrk.body = " + json.dumps(body) + "\n")
    f.write(open(sys.argv[2]).read())
PY
  BODY_PLAIN=$(printf %s "$SECRET" | "$BIN/macaroon" wrap bench-body --host api.example.test 2>/dev/null)
  BODY_PLAIN=$("$BIN/macaroon" attenuate "$BODY_PLAIN" --method POST --path /v1 --expires 2h)
  BODY_CHECKED=$("$BIN/macaroon" attenuate "$BODY_PLAIN" --caveat "json /model in gpt-4o gpt-4o-mini" --caveat "json /max_tokens <= 1024")
  NOSCRUB_BIN=${NOSCRUB_BIN:-}
  if [[ -z "$NOSCRUB_BIN" ]]; then
    # Built in the same target directory (cargo keeps both feature sets' artifacts, so
    # switching back only copies the binary), then the normal build is put back.
    log "cargo build --release -p macaroon-proxy --features bench-no-scrub"
    NOSCRUB_BIN="$WORK/macaroon-proxy-noscrub"
    (cd "$REPO" && cargo build --release -p macaroon-proxy --features bench-no-scrub --quiet &&
      cp "$BIN/macaroon-proxy" "$NOSCRUB_BIN" && cargo build --release -p macaroon-proxy --quiet) || NOSCRUB_BIN=""
  fi
  start_ours
  for t in "$BODY_PLAIN" "$BODY_CHECKED"; do
    got=$(curl -sS --max-time 5 -H "Authorization: Bearer $t" -H "Content-Type: application/json" \
      --data-binary @"$WORK/post4k.json" "http://127.0.0.1:$PROXY/v1/charges" 2>&1 || true)
    [[ $got == ok:* ]] || { log "sanity check failed for the body caveats: got '${got:0:200}'"; exit 1; }
  done
  stop "$OURS_PID"
  for r in $(seq "$ROUNDS"); do
    start_ours
    for cfg in plain checked; do
      tok=$BODY_PLAIN; [[ $cfg == checked ]] && tok=$BODY_CHECKED
      RUN_TOKEN=$tok WRK_SCRIPT="$WORK/post4k.lua" run_wrk body "$cfg" "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/charges" "$CONNS" "$THREADS"
    done
    run_wrk scrub on "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/big" "$BIG_CONNS" 1
    stop "$OURS_PID"
    if [[ -n "$NOSCRUB_BIN" ]]; then
      MACAROON_BENCH_NO_SCRUB=1 OURS_BIN=$NOSCRUB_BIN start_ours
      run_wrk scrub off "$r" "$OURS_PID" "http://127.0.0.1:$PROXY/v1/big" "$BIG_CONNS" 1
      stop "$OURS_PID"
    fi
  done
fi

if want connect; then
  # wrk speaks TLS to a local socat port; socat opens a CONNECT through the proxy for each
  # connection. Intercepted: CONNECT api.example.test (TLS with a leaf from the local CA,
  # every inner request verified). Blind: CONNECT blind.example.test, a --passthrough host
  # (bytes copied to the upstream, no verification, no key injected).
  BR=$(freeport)
  for r in $(seq "$ROUNDS"); do
    for mode in intercept tunnel; do
      target=api.example.test; [[ $mode == tunnel ]] && target=blind.example.test
      start_ours --passthrough blind.example.test
      socat "TCP-LISTEN:$BR,bind=127.0.0.1,reuseaddr,fork,backlog=512" \
        "PROXY:127.0.0.1:$target:443,proxyport=$PROXY" 2>>"$WORK/socat.log" &
      SOCAT_PID=$!; PIDS+=("$SOCAT_PID"); wait_port "$BR"
      run_wrk connect "$mode" "$r" "$OURS_PID" "https://127.0.0.1:$BR/v1/charges" "$CONNS" "$THREADS" -H "Host: api.example.test"
      stop "$SOCAT_PID"; stop "$OURS_PID"
    done
  done
fi

if want handshake; then
  # curl's own timings (time_appconnect - time_connect: CONNECT + TLS handshake through the
  # proxy, or the TLS handshake alone for direct), N tries each, medians reported.
  start_ours --passthrough blind.example.test
  hs() { # hs CONFIG HOST [curl args]
    local config=$1 host=$2; shift 2
    curl -s -o /dev/null --max-time 5 -w "%{time_connect} %{time_appconnect} %{http_code}\n" \
      -H "Authorization: Bearer $TOKEN" "$@" "https://$host/v1/charges" |
      awk -v c="$config" '{printf "handshake\t%s\t1\tconnect_s=%s appconnect_s=%s status=%s\n", c, $1, $2, $3}' >> "$RESULTS"
  }
  for i in $(seq 30); do
    # A never-seen host: the proxy signs a new leaf certificate (the request is then
    # refused for lack of a sealed host: only the handshake is timed).
    hs intercept_new_leaf "h$i-$RANDOM.example.test" -x "http://127.0.0.1:$PROXY" --cacert "$MACAROON_HOME/ca.pem"
    hs intercept_cached_leaf api.example.test -x "http://127.0.0.1:$PROXY" --cacert "$MACAROON_HOME/ca.pem"
    hs blind_tunnel blind.example.test -x "http://127.0.0.1:$PROXY" --cacert "$WORK/ca.pem"
    hs direct "api.example.test:$UP" --resolve "api.example.test:$UP:127.0.0.1" --cacert "$WORK/ca.pem"
  done
  stop "$OURS_PID"
fi

if want idle; then
  # RSS with IDLE_CONNS open client connections: only accepted, and after one request each
  # (kept alive, idle). The same for the nginx hop, for reference.
  idle_run() { # idle_run CONFIG PID PORT [--request TOKEN]
    local config=$1 pid=$2 port=$3; shift 3
    local before out="$WORK/idle.$config${1:+.request}.txt"
    before=$(status_kb "$pid" VmRSS)
    timeout 120 python3 "$BENCH/idle_conns.py" 127.0.0.1 "$port" "$IDLE_CONNS" 30 "$@" > "$out" 2>&1 &
    local py=$!
    for _ in $(seq 1100); do grep -q '^READY' "$out" && break; kill -0 $py 2>/dev/null || break; sleep 0.1; done
    sleep 3 # idle for a moment: the proxy releases an idle connection's HTTP state after 0.5 s
    printf 'idle\t%s%s\t1\t%s rss_before_kb=%s rss_kb=%s hwm_kb=%s\n' "$config" "${1:+_after_request}" \
      "$(sed -n 's/^READY //p' "$out")" "$before" "$(status_kb "$pid" VmRSS)" "$(status_kb "$pid" VmHWM)" >> "$RESULTS"
    kill "$py" 2>/dev/null || true; wait "$py" 2>/dev/null || true
  }
  start_ours
  idle_run ours "$OURS_PID" "$PROXY"
  idle_run ours "$OURS_PID" "$PROXY" --request "$TOKEN"
  stop "$OURS_PID"
  start_nginx_hop
  idle_run nginx "$HOP_PID" "$HOP"
  idle_run nginx "$HOP_PID" "$HOP" --request "$TOKEN"
  stop "$HOP_PID"
fi

if want attenuate; then
  hyperfine -N --warmup 20 --runs 300 --export-json "$WORK/attenuate.json" \
    "$BIN/macaroon attenuate $TOKEN --method GET --path /v1/charges --expires 10m" \
    "$BIN/macaroon --version" >/dev/null 2>"$WORK/hyperfine.err" ||
    hyperfine --warmup 20 --runs 300 --export-json "$WORK/attenuate.json" \
      "$BIN/macaroon attenuate $TOKEN --method GET --path /v1/charges --expires 10m" \
      "$BIN/macaroon --version" >/dev/null
  python3 - "$WORK/attenuate.json" >> "$RESULTS" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    name = "attenuate" if " attenuate " in r["command"] else "version"
    print(f"attenuate\t{name}\t1\tmean_ms={r['mean']*1e3:.3f} median_ms={r['median']*1e3:.3f} "
          f"min_ms={r['min']*1e3:.3f} max_ms={r['max']*1e3:.3f} stddev_ms={r['stddev']*1e3:.3f}")
EOF
fi

# ---------------------------------------------------------------- report
MACHINE="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
python3 "$BENCH/summarize.py" "$RESULTS" --duration "$DURATION" --conns "$CONNS" --threads "$THREADS" \
  --rounds "$ROUNDS" --machine "$MACHINE" --idle-conns "$IDLE_CONNS" --caveats "$CAVEATS"
cp "$RESULTS" "${RESULTS_OUT:-/dev/null}" 2>/dev/null || true
