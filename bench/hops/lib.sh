# Sourced by the scripts beside it. Run them from the project root, as root:
#   bash bench/hops/nginx-hop.sh            (reverse mode vs an nginx header-injecting hop)
#   bash bench/hops/intercept-vs-nginx.sh   (TLS on both sides vs an nginx TLS-terminating hop)
# They build the release binaries unless BIN=DIR names them, need nginx-light and wrk (apt), and
# print one line per round, then the medians of 5 alternated rounds as ratios ours/nginx.
set -u
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v nginx >/dev/null && command -v wrk >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq nginx-light wrk >/dev/null; }
if [ -z "${BIN:-}" ]; then cargo build --release --workspace --quiet || exit 1; BIN=$PWD/target/release; fi
H=$(mktemp -d -t hops-bench.XXXX)
export MACAROON_HOME=$H MACAROON_STORE=file
# On exit: stop every process started here, and remove the work directory (KEEP=1 keeps it).
pids=(); trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$H"' EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# a test CA and an ECDSA P-256 certificate for api.stripe.com (the upstream's, and nginx's TLS hop's)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca -keyout $H/tca.key -out $H/tca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=api.stripe.com -keyout $H/up.key -out $H/up.csr 2>/dev/null
printf "subjectAltName=DNS:api.stripe.com\n" > $H/up.ext
openssl x509 -req -in $H/up.csr -CA $H/tca.pem -CAkey $H/tca.key -CAcreateserial -days 2 -extfile $H/up.ext -out $H/up.pem 2>/dev/null
# nginx, two instances: the TLS upstream (fixed JSON answer; 1 worker) and the hops (2 workers): a
# plain-HTTP hop and a TLS-terminating hop, both injecting a fixed Authorization header, keeping
# upstream connections alive and writing an access log line per request to a file (as ours writes its
# audit line). Separate instances, so each hop's own CPU can be read from /proc.
NUP=$(freeport) NHOP=$(freeport) NTLS=$(freeport)
mkdir -p $H/up/logs $H/hop/logs
hop='proxy_pass https://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host api.stripe.com;
      proxy_set_header Authorization "Bearer sk_test_baseline"; proxy_ssl_server_name on; proxy_ssl_name api.stripe.com;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate '$H'/tca.pem; proxy_ssl_session_reuse on;'
cat > $H/up/nginx.conf <<CONF
worker_processes 1; pid $H/up/nginx.pid; error_log $H/up/logs/error.log warn;
events { worker_connections 8192; }
http { access_log off;
  server { listen 127.0.0.1:$NUP ssl; server_name api.stripe.com; ssl_certificate $H/up.pem; ssl_certificate_key $H/up.key;
    keepalive_requests 1000000; location / { default_type application/json; return 200 '{"object":"list","data":[],"has_more":false}'; } } }
CONF
cat > $H/hop/nginx.conf <<CONF
worker_processes 2; pid $H/hop/nginx.pid; error_log $H/hop/logs/error.log warn;
events { worker_connections 8192; }
http { access_log $H/hop/logs/access.log;
  upstream up { server 127.0.0.1:$NUP; keepalive 1024; }
  server { listen 127.0.0.1:$NHOP; keepalive_requests 1000000; location / { $hop } }
  server { listen 127.0.0.1:$NTLS ssl; server_name api.stripe.com; ssl_certificate $H/up.pem; ssl_certificate_key $H/up.key;
    keepalive_requests 1000000; location / { $hop } }
}
CONF
for d in up hop; do nginx -p $H/$d -c $H/$d/nginx.conf || { echo "nginx ($d) failed to start"; exit 1; }; done
sleep 0.3; pids+=($(cat $H/up/nginx.pid) $(cat $H/hop/nginx.pid))
HOP_PIDS="$(pgrep -P $(cat $H/hop/nginx.pid) | tr '\n' ' ')"
# our token: 10 minutes, GET only, under /v1/charges (3 caveats); audit lines go to a file
$BIN/macaroon-proxy keygen >/dev/null 2>&1
ROOT=$(echo sk_test_bench | $BIN/macaroon wrap bench --host api.stripe.com 2>/dev/null)
TOK=$($BIN/macaroon attenuate "$ROOT" --expires 10m --path /v1/charges --method GET 2>/dev/null)
# rps PIDS WRK-ARGS...: requests/s, and the CPU (user+system) the processes PIDS spent per request,
# in microseconds, from /proc: "RPS CPU_US", or "bad" when wrk saw errors or non-2xx answers.
cpu_ticks() { local t=0 p; for p in $1; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
rps() { local pids=$1; shift; local c0 out c1
  c0=$(cpu_ticks "$pids"); out=$(wrk -t1 -c32 -d5s "$@"); c1=$(cpu_ticks "$pids")
  echo "$out" | awk -v dt=$((c1 - c0)) -v hz=$(getconf CLK_TCK) '/Non-2xx|Socket errors/ {bad=1}
    /Requests\/sec/ {r=$2} /requests in/ {n=$1} END {if (bad) print "bad"; else printf "%s %.1f\n", r, dt / hz * 1e6 / n}'; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
ratio() { python3 -c "print(round($1/$2, 3))"; }
# record ROUND NGINX OURS NGINX_NEWCONN OURS_NEWCONN (each "RPS CPU_US"): print the round, keep ratios
KA=(); KC=(); NA=(); NCC=()
record() {
  local r=$1 n=$2 o=$3 n2=$4 o2=$5 v
  for v in "$o" "$o2"; do [ "$v" = bad ] && { echo "our proxy answered errors under load"; exit 1; }; done
  for v in "$n" "$n2"; do [ "$v" = bad ] && { echo "the nginx baseline answered errors under load"; exit 1; }; done
  echo "round $r  keep-alive: nginx ${n% *} req/s ${n#* } us/req, ours ${o% *} req/s ${o#* } us/req" \
       "| new connection: nginx ${n2% *} req/s ${n2#* } us/req, ours ${o2% *} req/s ${o2#* } us/req"
  KA+=($(ratio ${o% *} ${n% *})); KC+=($(ratio ${o#* } ${n#* })); NA+=($(ratio ${o2% *} ${n2% *})); NCC+=($(ratio ${o2#* } ${n2#* }))
}
report() {
  echo "$1, medians of ${#KA[@]}: keep-alive req/s $(median "${KA[@]}")x (CPU/req $(median "${KC[@]}")x)," \
       "new connection req/s $(median "${NA[@]}")x (CPU/req $(median "${NCC[@]}")x)"
}
