#!/usr/bin/env bash
# What `macaroon exec --sandbox` costs against plain `macaroon exec` (HTTPS_PROXY), in one run:
#
#   bash bench/sandbox.sh            # ROUNDS=3 N=200 STREAMS=32 SIZE_MB=8
#
# Both modes go through the same proxy (CONNECT, intercepted with a leaf from its CA) to the
# same local TLS upstream (a threaded Python server); the only difference is the bridge:
#
#   per-connection  N sequential curl calls, each a new connection: wall time per call
#   streams         STREAMS curl downloads of SIZE_MB MiB at once: total MiB/s
#
# Rounds alternate the two modes; medians are printed. Linux, root or unprivileged user
# namespaces, iptables, curl, python3. Everything runs in a throwaway directory and is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} N=${N:-200} STREAMS=${STREAMS:-32} SIZE_MB=${SIZE_MB:-8}

[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release --bins -q
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export MACAROON_HOME=$WORK/home MACAROON_STORE=file

# A CA and a certificate for the upstream's name, and the upstream itself.
HOST=api.bench.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST" \
  -keyout "$WORK/up.key" -out "$WORK/up.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s\n' "$HOST" > "$WORK/san"
openssl x509 -req -in "$WORK/up.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 2 -extfile "$WORK/san" -out "$WORK/up.pem" 2>/dev/null
head -c $((SIZE_MB * 1024 * 1024)) /dev/zero | tr '\0' 'a' > "$WORK/big"
echo '{"ok":true}' > "$WORK/small"
cat > "$WORK/up.py" <<'EOF'
import http.server, ssl, sys, os
os.chdir(sys.argv[1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
srv.RequestHandlerClass.protocol_version = "HTTP/1.1"
srv.RequestHandlerClass.log_message = lambda *a: None
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
EOF
python3 "$WORK/up.py" "$WORK" "$WORK/up.pem" "$WORK/up.key" > "$WORK/up.port" & pids+=($!)
while [ ! -s "$WORK/up.port" ]; do sleep 0.05; done
UP=$(cat "$WORK/up.port")

"$BIN/macaroon-proxy" keygen >/dev/null 2>&1
echo sk_bench_secret | "$BIN/macaroon" wrap bench --host "$HOST" >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/macaroon-proxy" run --listen "127.0.0.1:$PORT" --resolve "$HOST=127.0.0.1:$UP" \
  --upstream-ca "$WORK/ca.pem" --audit-log "$WORK/audit.jsonl" 2>"$WORK/proxy.err" & pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do sleep 0.05; done

ONE='for i in $(seq 1 '"$N"'); do curl -sS -o /dev/null "https://'"$HOST"'/small" -H "Authorization: Bearer $T" || exit 1; done'
MANY='for i in $(seq 1 '"$STREAMS"'); do curl -sS -o /dev/null "https://'"$HOST"'/big" -H "Authorization: Bearer $T" & done; wait'

# Seconds for SCRIPT under `macaroon exec` with FLAGS.
timed() {
  local flags=$1 script=$2 start end
  start=$(date +%s.%N)
  "$BIN/macaroon" exec $flags --token bench --env T --proxy "http://127.0.0.1:$PORT" -- sh -c "$script"
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Warm-up: the first exec per CA builds the Java trust store (where a JDK is installed).
"$BIN/macaroon" exec --token bench --proxy "http://127.0.0.1:$PORT" -- true
"$BIN/macaroon" exec --sandbox --token bench --proxy "http://127.0.0.1:$PORT" -- true
for r in $(seq 1 "$ROUNDS"); do
  for mode in plain sandbox; do
    flags=""; [ "$mode" = sandbox ] && flags="--sandbox"
    echo "$(timed "$flags" "$ONE")" >> "$WORK/one.$mode"
    echo "$(timed "$flags" "$MANY")" >> "$WORK/many.$mode"
  done
done
for mode in plain sandbox; do
  one=$(median < "$WORK/one.$mode"); many=$(median < "$WORK/many.$mode")
  printf '%-8s per new connection %.2f ms   %d streams of %d MiB: %.0f MiB/s\n' "$mode" \
    "$(echo "$one * 1000 / $N" | bc -l)" "$STREAMS" "$SIZE_MB" "$(echo "$STREAMS * $SIZE_MB / $many" | bc -l)"
done
