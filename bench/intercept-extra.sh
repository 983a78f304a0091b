#!/usr/bin/env bash
# Beyond the intercept comparison (bench/hops/intercept-vs-nginx.sh, whose lib.sh this
# sources for the same upstream, nginx hops, token and CPU accounting): the intercept modes a
# wrk run cannot show.
#
#   BIN=target/release bash bench/intercept-extra.sh
#
#   connect    HTTPS_PROXY (CONNECT, then TLS to our leaf) with bench/tls-load, keep-alive and a
#              new connection (TCP + CONNECT + TLS, resumed) per request, vs the nginx TLS hop
#              driven by the same client
#   h2         the same client speaking HTTP/2 (ALPN h2) through our CONNECT interception
#   tls13      the nginx TLS hop with TLS 1.3 enabled too (nginx 1.22 offers TLS 1.2 only by
#              default, where a resumed handshake has no key exchange): the like-for-like
#              new-connection baseline for our TLS 1.3 resumption
#   p99@256    wrk -c256 --latency, keep-alive, transparent mode vs the nginx TLS hop
#
# Each row: requests/s, the hop's CPU per request (us), p50/p99 (ms); 3 alternated rounds,
# medians. Needs root, unshare, iptables, nginx, wrk and cargo (builds bench/tls-load).
set -u
if [ -z "${IN_NS:-}" ]; then  # install what is missing before the namespace, which has no network
  for t in nginx wrk iptables; do command -v $t >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq nginx-light wrk iptables >/dev/null; break; }; done
  [ -n "${BIN:-}" ] || { echo "BIN=DIR naming macaroon and macaroon-proxy is needed"; exit 1; }
  export BIN=$(cd "$BIN" && pwd)
  (cd "$(dirname "$0")/tls-load" && cargo build --release --quiet) || exit 1
  export LOAD=$(cd "$(dirname "$0")/tls-load" && pwd)/target/release/tls-load
  IN_NS=1 exec unshare -n -m bash "$0" "$@"
fi
ip link set lo up
ip route add 203.0.113.0/24 dev lo src 127.0.0.1
source "$(dirname "$0")/hops/lib.sh"
ROUNDS=${ROUNDS:-3} SECS=${SECS:-5}
OURS=$(freeport) OURC=$(freeport)
$BIN/macaroon-proxy run --transparent --listen 127.0.0.1:$OURS --audit-log $H/audit.jsonl --upstream-ca $H/tca.pem \
  --resolve api.stripe.com=127.0.0.1:$NUP >$H/proxy.out 2>&1 & pids+=($!); OPID=$!
$BIN/macaroon-proxy run --listen 127.0.0.1:$OURC --audit-log $H/audit-c.jsonl --upstream-ca $H/tca.pem \
  --resolve api.stripe.com=127.0.0.1:$NUP >$H/proxy-c.out 2>&1 & pids+=($!); CPID=$!
wait_port $OURS && wait_port $OURC || { tail -2 $H/proxy.out $H/proxy-c.out; exit 1; }
printf '127.0.0.1 localhost\n203.0.113.10 api.stripe.com\n' > $H/hosts; mount --bind $H/hosts /etc/hosts
iptables -t nat -A OUTPUT -p tcp -d 203.0.113.10 --dport 443 -j REDIRECT --to-ports $OURS
# a second nginx hop, TLS 1.2 and 1.3 (same config otherwise)
N13=$(freeport) N13P=$(freeport); mkdir -p $H/hop13/logs
sed -e "s#$H/hop/#$H/hop13/#g" -e "s#listen 127.0.0.1:$NTLS ssl;#listen 127.0.0.1:$N13 ssl; ssl_protocols TLSv1.2 TLSv1.3;#" \
    -e "s#listen 127.0.0.1:$NHOP;#listen 127.0.0.1:$N13P;#" $H/hop/nginx.conf > $H/hop13/nginx.conf
nginx -p $H/hop13 -c $H/hop13/nginx.conf || exit 1; sleep 0.3; pids+=($(cat $H/hop13/nginx.pid))
HOP13_PIDS="$(pgrep -P $(cat $H/hop13/nginx.pid) | tr '\n' ' ')"
AUTH="Authorization: Bearer $TOK"
# load PIDS CMD...: "RPS CPU_US P50 P99" for tls-load (errors: "bad")
load() { local pids=$1; shift; local c0 out c1
  c0=$(cpu_ticks "$pids"); out=$("$@"); c1=$(cpu_ticks "$pids")
  echo "$out" | awk -v dt=$((c1 - c0)) -v hz=$(getconf CLK_TCK) '{ if ($10 > 0 || $2 == 0) print "bad"; else printf "%s %.1f %s %s\n", $4, dt / hz * 1e6 / $2, $6, $8 }'; }
# wrk256 PIDS WRK-ARGS...: the same from wrk -c256 --latency
wrk256() { local pids=$1; shift; local c0 out c1
  c0=$(cpu_ticks "$pids"); out=$(wrk -t1 -c256 -d${SECS}s --latency "$@"); c1=$(cpu_ticks "$pids")
  echo "$out" | awk -v dt=$((c1 - c0)) -v hz=$(getconf CLK_TCK) 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
    /Non-2xx|Socket errors/ {bad=1} / 50%/ {p50=ms($2)} / 99%/ {p99=ms($2)} /Requests\/sec/ {r=$2} /requests in/ {n=$1}
    END {if (bad) print "bad"; else printf "%s %.1f %.2f %.2f\n", r, dt / hz * 1e6 / n, p50, p99}'; }
L=($LOAD https://api.stripe.com/v1/charges --ca $H/ca.pem -d $SECS)
LN=($LOAD https://api.stripe.com/v1/charges --ca $H/tca.pem -d $SECS)
declare -A R
run() { local name=$1; shift; local v; v=$("$@"); [ "$v" = bad ] && { echo "$name: errors"; exit 1; }; R[$name]+="$v;"; echo "  $name: $v"; }
for round in $(seq $ROUNDS); do
  echo "round $round"
  run nginx-ka          load "$HOP_PIDS" "${LN[@]}" --connect-to 127.0.0.1:$NTLS
  run connect-ka        load "$CPID" "${L[@]}" --proxy 127.0.0.1:$OURC -H "$AUTH"
  run nginx-new         load "$HOP_PIDS" "${LN[@]}" --connect-to 127.0.0.1:$NTLS --new-conn
  run connect-new       load "$CPID" "${L[@]}" --proxy 127.0.0.1:$OURC -H "$AUTH" --new-conn
  run nginx13-new       load "$HOP13_PIDS" "${LN[@]}" --connect-to 127.0.0.1:$N13 --new-conn
  run transparent-new   load "$OPID" "${L[@]}" -H "$AUTH" --new-conn
  run connect-h2-ka     load "$CPID" "${L[@]}" --proxy 127.0.0.1:$OURC -H "$AUTH" --h2
  run connect-h2-new    load "$CPID" "${L[@]}" --proxy 127.0.0.1:$OURC -H "$AUTH" --h2 --new-conn
  run nginx-ka-256      wrk256 "$HOP_PIDS" -H "Host: api.stripe.com" https://127.0.0.1:$NTLS/v1/charges
  run transparent-ka-256 wrk256 "$OPID" -H "$AUTH" https://api.stripe.com/v1/charges
done
echo "medians of $ROUNDS rounds: req/s, CPU us/req, p50 ms, p99 ms"
for k in nginx-ka connect-ka connect-h2-ka nginx-new nginx13-new connect-new transparent-new connect-h2-new nginx-ka-256 transparent-ka-256; do
  IFS=';' read -ra rows <<< "${R[$k]}"
  out="$k"; for f in 1 2 3 4; do out+=" $(median $(printf '%s\n' "${rows[@]}" | awk -v f=$f '{print $f}'))"; done
  echo "$out"
done | column -t
