# shellcheck shell=bash
# Sourced by bench/proxy.sh with PEERS=1 (not run on its own): nono's credential proxy
# (crates.io nono-cli, `nono proxy`: its proxy as a standalone process, no sandbox, no root)
# as one more hop in the keep-alive, latency, new-connection and wide scenarios.
#
# Installs nono-cli@$NONO_VERSION with `cargo install` into $NONO_ROOT (kept between runs;
# at most $NONO_INSTALL_TIMEOUT seconds; a build cut short resumes from $NONO_ROOT/target
# next time), writes its profile into $WORK/nono, checks it, and on success leaves NONO_BIN
# set and defines nono_run. Any failure logs why and leaves NONO_BIN empty (no nono rows),
# never fails the run. Uses proxy.sh's WORK UP SECRET TOKEN PIDS log freeport wait_port stop
# check_ok run_wrk.
#
# What nono is given, as close to our token's 10 caveats as its configuration goes:
#  * a custom credential "api" (the route /api/...): upstream https://127.0.0.1:$UP with
#    tls_ca $WORK/ca.pem (verified, on top of the system roots). Not api.example.test: nono
#    resolves the upstream's name with the system resolver on every request and has no
#    --resolve, and that name is in no resolver here; the upstream certificate names
#    127.0.0.1 too, so the check is the same, only no SNI is sent.
#  * the real key from env://NONO_BENCH_SECRET, injected as `Authorization: Bearer KEY`.
#  * endpoint_rules GET /v1/* (`*` is one segment): what the token's method and path caveats
#    allow together (method in GET HEAD, method = GET, path prefix /v1, path glob /v1/*).
#    The time and host caveats have no counterpart: the credential is good for as long as
#    the process runs, and a route has one upstream.
#  * the client proves itself with nono's session token (fixed here with NONO_PROXY_PASS:
#    64 random hex characters), sent as `Authorization: Bearer TOKEN` and compared in
#    constant time: no signature chain, nothing sealed to open (our hop, on a cache hit,
#    does a hash and a map lookup, then checks the caveats against the request).
#
# Three things nono does that show in its rows (nono-proxy 0.81.0, none configurable):
#  * it answers one request per client connection, then closes it without a `Connection:
#    close` header. wrk, sent the same requests as the other hops, reuses the connection,
#    finds it closed and counts a read error before reconnecting: nono's rows show about
#    one read error per request (their answers are all 200s). So every nono row is, in
#    fact, a new client connection per request, keep-alive or not.
#  * it pools its upstream connections (hyper) but keeps at most 4 idle per host: with 32
#    client connections about one request in five opens a new TLS connection upstream; with
#    one connection every request reuses one.
#  * it writes each answer to the client in one system call per line (status line, each
#    header, blank line, body) on a socket without TCP_NODELAY: under load some answers wait
#    for the client's delayed ACK (~40 ms), hence its p90 and p99 with 32 connections.

NONO_VERSION=${NONO_VERSION:-0.81.0}
NONO_ROOT=${NONO_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/macaroon-bench/nono}
NONO_INSTALL_TIMEOUT=${NONO_INSTALL_TIMEOUT:-2400}
NONO_BIN="$NONO_ROOT/bin/nono"

nono_version() { "$NONO_BIN" --version 2>/dev/null | awk '{print $NF}'; }
if [[ "$(nono_version)" != "$NONO_VERSION" ]]; then
  # Without --locked as a fallback: a registry mirror can lag behind nono's lock file.
  log "cargo install nono-cli@$NONO_VERSION into $NONO_ROOT (at most ${NONO_INSTALL_TIMEOUT}s)"
  nono_t0=$SECONDS
  # In the background, among PIDS: an interrupted bench stops the build too (timeout passes
  # the signal on to cargo's process group).
  # shellcheck disable=SC2016 # $1 and $2 are bash -c's arguments
  env CARGO_TARGET_DIR="$NONO_ROOT/target" timeout "$NONO_INSTALL_TIMEOUT" bash -c '
    cargo install --locked "nono-cli@$1" --root "$2" || cargo install "nono-cli@$1" --root "$2"' \
    _ "$NONO_VERSION" "$NONO_ROOT" >"$WORK/nono-install.log" 2>&1 &
  nono_install=$!; PIDS+=("$nono_install")
  if wait "$nono_install"; then
    rm -rf "$NONO_ROOT/target"
    log "nono-cli installed in $((SECONDS - nono_t0))s"
  else
    log "cargo install nono-cli failed after $((SECONDS - nono_t0))s ($(tail -1 "$WORK/nono-install.log")): skipping the nono rows"
  fi
  forget_pid "$nono_install"
fi
[[ "$(nono_version)" == "$NONO_VERSION" ]] || NONO_BIN=""

if [[ -n "$NONO_BIN" ]]; then
  NONO_PORT=$(freeport)
  NONO_TOKEN=$(openssl rand -hex 32)
  mkdir -p "$WORK/nono"
  cat > "$WORK/nono/profile.json" <<EOF
{
  "meta": { "name": "macaroon-bench" },
  "network": {
    "custom_credentials": {
      "api": {
        "upstream": "https://127.0.0.1:$UP",
        "credential_key": "env://NONO_BENCH_SECRET",
        "env_var": "API_KEY",
        "inject_header": "Authorization",
        "credential_format": "Bearer {}",
        "tls_ca": "$WORK/ca.pem",
        "endpoint_rules": [{ "method": "GET", "path": "/v1/*" }]
      }
    }
  }
}
EOF
  start_nono() {
    # Its own HOME and XDG directories: nothing read from or left in the user's. No cap on
    # client connections (its default, 256, would refuse some of the wide run's).
    env NONO_NO_UPDATE_CHECK=1 NONO_PROXY_PASS="$NONO_TOKEN" NONO_BENCH_SECRET="$SECRET" \
      HOME="$WORK/nono" XDG_CONFIG_HOME="$WORK/nono/config" XDG_STATE_HOME="$WORK/nono/state" \
      XDG_DATA_HOME="$WORK/nono/data" XDG_CACHE_HOME="$WORK/nono/cache" \
      "$NONO_BIN" --silent proxy --listen 127.0.0.1 --port "$NONO_PORT" \
      --profile "$WORK/nono/profile.json" --credential api --max-connections 0 >>"$WORK/nono.log" 2>&1 &
    NONO_PID=$!; PIDS+=("$NONO_PID")
    wait_port "$NONO_PORT" 300
  }
  # The real key upstream; our token refused (401); a path outside the rules refused (403).
  if start_nono &&
    check_ok nono "http://127.0.0.1:$NONO_PORT/api/v1/check" "authorization=Bearer $SECRET" "$NONO_TOKEN" &&
    check_ok "nono (another token)" "http://127.0.0.1:$NONO_PORT/api/v1/check" '"error":"Unauthorized"' "$TOKEN" &&
    check_ok "nono (outside the endpoint rules)" "http://127.0.0.1:$NONO_PORT/api/v2/check" '"error":"Forbidden"' "$NONO_TOKEN"; then
    stop "$NONO_PID"
    log "nono $NONO_VERSION, session token: ${#NONO_TOKEN} characters"
    printf 'meta\tnono\t1\tversion=%s token_chars=%s\n' "$NONO_VERSION" "${#NONO_TOKEN}" >> "$WORK/meta.tsv"
  else
    log "skipping the nono rows (see $WORK/nono.log; KEEP=1 keeps it)"
    [[ -n "${NONO_PID:-}" ]] && stop "$NONO_PID"
    NONO_BIN=""
  fi
fi

nono_run() { # nono_run SCENARIO ROUND CONNS THREADS [wrk args]: one wrk run through nono
  local scenario=$1 round=$2 conns=$3 threads=$4; shift 4
  start_nono
  RUN_TOKEN=$NONO_TOKEN run_wrk "$scenario" nono "$round" "$NONO_PID" \
    "http://127.0.0.1:$NONO_PORT/api${BENCH_PATH:-/v1/charges}" "$conns" "$threads" "$@"
  stop "$NONO_PID"
}
