#!/usr/bin/env python3
"""Turns bench/proxy.sh's results.tsv into Markdown tables (stdout) with ratios and the
issue's targets. Each line of the TSV: SCENARIO CONFIG ROUND "key=value ...".
Several rounds of the same scenario/config are reduced to their median."""

import argparse
import statistics
from collections import defaultdict


def load(path):
    rows = defaultdict(list)
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 4:
            continue
        scenario, config, _round, kv = parts[:4]
        d = {}
        for item in kv.split():
            if "=" in item:
                k, v = item.split("=", 1)
                try:
                    d[k] = float(v)
                except ValueError:
                    d[k] = v
        rows[(scenario, config)].append(d)
    return rows


def med(rows, key, cfg, field):
    vals = [r[field] for r in rows.get((key, cfg), []) if isinstance(r.get(field), float)]
    return statistics.median(vals) if vals else None


def fmt(v, spec=".0f", unit=""):
    return "n/a" if v is None else f"{v:{spec}}{unit}"


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def cpu_us_per_req(rows, scenario, cfg, field="cpu_ticks"):
    out = []
    for r in rows.get((scenario, cfg), []):
        if r.get("requests") and isinstance(r.get(field), float) and r.get("clk_tck"):
            out.append(r[field] / r["clk_tck"] * 1e6 / r["requests"])
    return statistics.median(out) if out else None


def cpu_cell(rows, scenario, cfg):
    total = cpu_us_per_req(rows, scenario, cfg)
    user = cpu_us_per_req(rows, scenario, cfg, "user_ticks")
    sys_ = cpu_us_per_req(rows, scenario, cfg, "sys_ticks")
    if total is None:
        return "n/a"
    if user is None or sys_ is None:
        return f"{total:.1f} µs"
    return f"{total:.1f} µs ({user:.0f} user + {sys_:.0f} sys)"


def errors(rows, scenario, cfg):
    n = 0
    for r in rows.get((scenario, cfg), []):
        for k in ("non2xx", "connect_err", "read_err", "write_err", "timeouts", "failed"):
            v = r.get(k)
            if isinstance(v, float):
                n += v
    return int(n)


def load_table(rows, scenario, configs, title, note):
    if not any((scenario, cfg) in rows for cfg, _ in configs):
        return
    print(f"\n### {title}\n\n{note}\n")
    print("| path | requests/s | p50 | p99 | hop CPU per request | peak RSS (VmHWM) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for cfg, label in configs:
        if (scenario, cfg) not in rows:
            continue
        hwm = med(rows, scenario, cfg, "hwm_kb")
        cpu = cpu_cell(rows, scenario, cfg)
        is_hop = cfg not in ("direct",)
        print(
            f"| {label} | {fmt(med(rows, scenario, cfg, 'rps'))} "
            f"| {fmt(us_ms(med(rows, scenario, cfg, 'p50_us')), '.3f', ' ms')} "
            f"| {fmt(us_ms(med(rows, scenario, cfg, 'p99_us')), '.3f', ' ms')} "
            f"| {cpu if is_hop else '(upstream ' + cpu + ')'} "
            f"| {fmt(kb_mb(hwm), '.1f', ' MB') if is_hop else '(upstream ' + fmt(kb_mb(hwm), '.1f', ' MB') + ')'} "
            f"| {errors(rows, scenario, cfg)} |"
        )


def feature_table(rows, a):
    """Each optional feature against the same build or token without it."""
    feats = [
        ("body", "checked", "plain", "body caveats: two `json` caveats, POST of a 4 KiB JSON body (read and checked vs streamed)"),
        ("scrub", "on", "off", "response scrubbing, 1 MiB responses, BIG_CONNS connections (vs a build without it)"),
        ("counted", "redis", "plain", "`uses` + `rate` counted in Redis on loopback (vs the same token without them)"),
        ("counted", "embedded", "plain", "`uses` + `rate` counted in the embedded store"),
    ]
    if not any((sc, on) in rows for sc, on, _, _ in feats):
        return
    print("\n### What each feature costs\n")
    print("Our hop only, one run, interleaved; medians.\n")
    print("| feature | requests/s with / without | ratio | p99 with / without | hop CPU per request with / without |")
    print("|---|---:|---:|---:|---:|")
    for sc, on, off, label in feats:
        if (sc, on) not in rows or (sc, off) not in rows:
            continue
        r_on, r_off = med(rows, sc, on, "rps"), med(rows, sc, off, "rps")
        p_on, p_off = us_ms(med(rows, sc, on, "p99_us")), us_ms(med(rows, sc, off, "p99_us"))
        c_on, c_off = cpu_us_per_req(rows, sc, on), cpu_us_per_req(rows, sc, off)
        print(f"| {label} | {fmt(r_on)} / {fmt(r_off)} | {fmt(ratio(r_on, r_off), '.2f', '×')} "
              f"| {fmt(p_on, '.3f')} / {fmt(p_off, '.3f', ' ms')} | {fmt(c_on, '.1f')} / {fmt(c_off, '.1f', ' µs')} |")


def us_ms(v):
    return None if v is None else v / 1000.0


def kb_mb(v):
    return None if v is None else v / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--duration")
    ap.add_argument("--conns")
    ap.add_argument("--threads")
    ap.add_argument("--rounds")
    ap.add_argument("--machine")
    ap.add_argument("--idle-conns", default="1000")
    ap.add_argument("--caveats", default="?")
    a = ap.parse_args()
    rows = load(a.tsv)
    print(f"## Load benchmark (bench/proxy.sh)\n")
    print(f"Machine: {a.machine}.  ")
    print(
        f"wrk -t{a.threads} -c{a.conns} -d{a.duration}s per run, {a.rounds} interleaved round(s), "
        f"medians; every request `GET /v1/charges` with `Authorization: Bearer <token>` "
        f"({a.caveats} caveats); the upstream answers a 64-byte body over TLS."
    )
    meta = rows.get(("meta", "mitmproxy"), [{}])[0]
    nono_meta = rows.get(("meta", "nono"), [{}])[0]
    three = [("direct", "direct (TLS to upstream)"), ("nginx", "nginx hop"), ("ours", "macaroon-proxy hop"),
             ("before", "macaroon-proxy hop, previous build (BEFORE_BIN)"),
             ("mitmproxy", f"mitmproxy {meta.get('version', '')} hop (Python addon, pymacaroons)".replace("  ", " ")),
             ("nono", f"nono {nono_meta.get('version', '')} proxy hop (session token, endpoint rules)".replace("  ", " "))]
    peer_note = (
        " mitmproxy: mitmdump in reverse mode with bench/mitm_addon.py, verifying a comparable pymacaroons "
        "token (same caveats and identifier length, a root key it is given: no sealed identifier to open) and "
        "swapping the header; one Python process, one event loop, no upstream connection pool."
        if ("keepalive", "mitmproxy") in rows or ("latency", "mitmproxy") in rows else "")
    peer_note += (
        " nono: `nono proxy` (standalone, no sandbox) with a custom credential for the upstream and the endpoint "
        "rule GET /v1/*, checking its session token (a constant-time comparison) instead of a macaroon. It closes "
        "each client connection after one answer without saying so: every nono run is a new client connection "
        "per request, and its errors are wrk's read error on each closed connection (the answers are 200s). "
        "It pools upstream connections but keeps at most 4 idle, and writes each answer a line per system call "
        "without TCP_NODELAY (delayed-ACK waits of ~40 ms under load; bench/nono.sh)."
        if any((sc, "nono") in rows for sc in ("keepalive", "latency", "newconn", "wide")) else "")
    load_table(rows, "keepalive", three, f"Keep-alive, {a.conns} connections",
               "Hop CPU = user+system time of the hop's processes during the run / requests (clock ticks of 10 ms: approximate for short runs). Peak RSS sums master and workers for nginx." + peer_note)
    load_table(rows, "latency", three, "One connection (unsaturated latency)", "wrk -c1 -t1.")
    load_table(rows, "newconn", three, f"New client connection per request, {a.conns} connections",
               "`Connection: close` on every request (the hops keep their upstream pools).")
    load_table(rows, "wide", three, "Keep-alive, many connections",
               "The keep-alive run with WIDE_CONNS connections (default 256).")
    load_table(rows, "connect", [("intercept", "CONNECT, intercepted + verified"), ("tunnel", "CONNECT, blind tunnel (--passthrough)")],
               f"CONNECT modes, {a.conns} connections (through socat)",
               "wrk → socat (opens one CONNECT per connection) → macaroon-proxy → upstream.")

    counted = [("plain", "token without usage/rate caveats"), ("redis", "+ uses and rate, --state redis (loopback)"),
               ("embedded", "+ uses and rate, embedded store"),
               ("redis_before", "+ uses and rate, --state redis, previous build (BEFORE_BIN)")]
    load_table(rows, "counted", counted, f"Usage and rate caveats, keep-alive, {a.conns} connections",
               "Our hop only; every request charged (one Lua round trip to Redis, or the in-process store), none refused.")
    load_table(rows, "counted_latency", counted, "Usage and rate caveats, one connection", "wrk -c1 -t1.")

    print("\n### Ratios\n")
    print("| measure | value |")
    print("|---|---:|")
    pairs = []
    for sc in ("keepalive", "latency", "newconn", "wide"):
        rn, ro, rd = (med(rows, sc, c, "rps") for c in ("nginx", "ours", "direct"))
        if ro is None:
            continue
        pairs.append((f"{sc}: requests/s ours / nginx", fmt(ratio(ro, rn), ".2f", "×")))
        pairs.append((f"{sc}: requests/s ours / direct", fmt(ratio(ro, rd), ".2f", "×")))
        cn, co = cpu_us_per_req(rows, sc, "nginx"), cpu_us_per_req(rows, sc, "ours")
        pairs.append((f"{sc}: hop CPU per request ours / nginx", fmt(ratio(co, cn), ".2f", "×")))
        for p in ("p50_us", "p99_us"):
            d, n, o = (med(rows, sc, c, p) for c in ("direct", "nginx", "ours"))
            if None not in (d, n, o):
                pairs.append((f"{sc}: {p[:3]} added over direct, nginx / ours",
                               f"{(n - d) / 1000:+.3f} ms / {(o - d) / 1000:+.3f} ms"))
        rb = med(rows, sc, "before", "rps")
        if rb is not None:
            pairs.append((f"{sc}: requests/s ours / previous build", fmt(ratio(ro, rb), ".2f", "×")))
            pairs.append((f"{sc}: requests/s previous build / nginx", fmt(ratio(rb, rn), ".2f", "×")))
            cb = cpu_us_per_req(rows, sc, "before")
            pairs.append((f"{sc}: hop CPU per request previous build / ours", fmt(ratio(cb, co), ".2f", "×")))
        for peer in ("mitmproxy", "nono"):
            rp = med(rows, sc, peer, "rps")
            if rp is None:
                continue
            pairs.append((f"{sc}: requests/s {peer} / nginx", fmt(ratio(rp, rn), ".2f", "×")))
            pairs.append((f"{sc}: requests/s ours / {peer}", fmt(ratio(ro, rp), ".2f", "×")))
            cp = cpu_us_per_req(rows, sc, peer)
            pairs.append((f"{sc}: hop CPU per request {peer} / ours", fmt(ratio(cp, co), ".2f", "×")))
            for p in ("p50_us", "p99_us"):
                d, x = med(rows, sc, "direct", p), med(rows, sc, peer, p)
                if None not in (d, x):
                    pairs.append((f"{sc}: {p[:3]} added over direct, {peer}", f"{(x - d) / 1000:+.3f} ms"))
    for sc in ("counted", "counted_latency"):
        base = med(rows, sc, "plain", "rps")
        for cfg in ("redis", "embedded", "redis_before"):
            v = med(rows, sc, cfg, "rps")
            if v is not None:
                pairs.append((f"{sc}: requests/s counted ({cfg}) / not counted", fmt(ratio(v, base), ".2f", "×")))
            p, b = med(rows, sc, cfg, "p99_us"), med(rows, sc, "plain", "p99_us")
            if None not in (p, b):
                pairs.append((f"{sc}: p99 counted ({cfg}) / not counted", f"{p / 1000:.3f} ms / {b / 1000:.3f} ms"))
    ri, rt = med(rows, "connect", "intercept", "rps"), med(rows, "connect", "tunnel", "rps")
    if ri is not None:
        pairs.append(("connect: requests/s intercepted / blind tunnel", fmt(ratio(ri, rt), ".2f", "×")))
    for k, v in pairs:
        print(f"| {k} | {v} |")

    hs = [c for (s, c) in rows if s == "handshake"]
    if hs:
        print("\n### New connection: CONNECT + TLS handshake (curl, medians of 30)\n")
        print("| path | CONNECT + handshake (ms) | status |")
        print("|---|---:|---|")
        for cfg in ("intercept_new_leaf", "intercept_cached_leaf", "blind_tunnel", "direct"):
            rs = rows.get(("handshake", cfg), [])
            if not rs:
                continue
            d = statistics.median([(r["appconnect_s"] - r["connect_s"]) * 1000 for r in rs])
            statuses = sorted({str(int(r["status"])) for r in rs if isinstance(r.get("status"), float)})
            print(f"| {cfg.replace('_', ' ')} | {d:.3f} | {','.join(statuses)} |")

    idle = [(c, rows[(s, c)][0]) for (s, c) in rows if s == "idle"]
    if idle:
        print(f"\n### {a.idle_conns} open client connections\n")
        print("| hop, state | opened | ok | RSS before | RSS with the connections open | peak RSS |")
        print("|---|---:|---:|---:|---:|---:|")
        for cfg, r in idle:
            print(
                f"| {cfg.replace('_', ' ')} | {fmt(r.get('opened'))} | {fmt(r.get('ok'))} "
                f"| {fmt(kb_mb(r.get('rss_before_kb')), '.1f', ' MB')} | {fmt(kb_mb(r.get('rss_kb')), '.1f', ' MB')} "
                f"| {fmt(kb_mb(r.get('hwm_kb')), '.1f', ' MB')} |"
            )

    att = rows.get(("attenuate", "attenuate"))
    ver = rows.get(("attenuate", "version"))
    if att:
        print("\n### `macaroon attenuate`, process start to exit (hyperfine -N, 300 runs)\n")
        print("| command | mean | median | min | max |")
        print("|---|---:|---:|---:|---:|")
        for name, r in (("macaroon attenuate TOKEN --method GET --path /v1/charges --expires 10m", att[0]),
                        ("macaroon --version (process start floor)", ver[0] if ver else None)):
            if r:
                print(f"| `{name}` | {r['mean_ms']:.2f} ms | {r['median_ms']:.2f} ms | {r['min_ms']:.2f} ms | {r['max_ms']:.2f} ms |")

    feature_table(rows, a)

    print("\n### Targets (load side)\n")
    print("| target | measured | holds |")
    print("|---|---:|---|")

    def target(name, value, ok, shown):
        print(f"| {name} | {shown} | {'n/a' if value is None else ('yes' if ok else '**no**')} |")

    r = ratio(med(rows, "keepalive", "ours", "rps"), med(rows, "keepalive", "nginx", "rps"))
    target(f"our hop ≥ 0.9× nginx hop requests/s, {a.conns} connections keep-alive", r,
           r is not None and r >= 0.9, fmt(r, ".2f", "×"))
    d, o = med(rows, "latency", "direct", "p99_us"), med(rows, "latency", "ours", "p99_us")
    added = None if None in (d, o) else (o - d) / 1000
    target("p99 added latency ≤ 1 ms (one connection, ours − direct)", added,
           added is not None and added <= 1.0, fmt(added, "+.3f", " ms"))
    d, o = med(rows, "keepalive", "nginx", "p99_us"), med(rows, "keepalive", "ours", "p99_us")
    added = None if None in (d, o) else (o - d) / 1000
    target(f"p99 added latency ≤ 1 ms ({a.conns} connections, ours − nginx hop)", added,
           added is not None and added <= 1.0, fmt(added, "+.3f", " ms"))
    if att:
        m = att[0]["mean_ms"]
        target("`macaroon attenuate` start to exit ≤ 5 ms (mean)", m, m <= 5.0, f"{m:.2f} ms")
    for cfg, r in idle:
        if cfg.startswith("ours"):
            mb = kb_mb(r.get("rss_kb"))
            bound = 30 if int(a.idle_conns) <= 1000 else 60
            target(f"proxy RSS ≤ {bound} MB at {a.idle_conns} open connections ({cfg.replace('_', ' ')})", mb,
                   mb is not None and mb <= bound, fmt(mb, ".1f", " MB"))


main()
