#!/usr/bin/env python3
"""Markdown tables from the criterion results of `cargo bench -p caveat --bench verify`.

Usage: python3 bench/criterion_table.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion). Times are criterion's
median estimates per iteration; ratios are against the `macaroon` crate's verifier on the
same encoded token.
"""

import json
import os
import sys


def load(root):
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
        est = json.load(open(os.path.join(dirpath, "estimates.json")))
        key = (bench["group_id"], bench.get("function_id") or bench.get("value_str") or "")
        out[key] = est["median"]["point_estimate"]  # nanoseconds
    return out


def t(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def r(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}×"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    res = load(root)
    if not res:
        sys.exit(f"no criterion results under {root}; run: cargo bench -p caveat --bench verify")
    sizes = sorted({int(g.split("/")[1]) for g, _ in res if g.startswith("verify/")})

    print("### Verify: ours vs the `macaroon` crate's verifier, same encoded tokens\n")
    print("| caveats | " + " | ".join(
        ["cache hit (hash + lookup + decide)", "decide alone", "proxy core, cache hit", "proxy core, no cache",
         "decode", "full verify (chain + parse + checks)", "decode + full verify", "cold (decode + unseal + verify)",
         "crate deserialize", "crate verify", "crate deserialize + verify"]) + " |")
    print("|---:|" + "---:|" * 11)
    for n in sizes:
        g = f"verify/{n}"
        cols = ["ours_cache_hit", "ours_verified_decide", "ours_proxy_core", "ours_proxy_core_uncached",
                "ours_decode", "ours_cached", "ours_decode_cached", "ours_cold",
                "crate_deserialize", "crate_verify", "crate_deserialize_verify"]
        print(f"| {n} | " + " | ".join(t(res.get((g, c))) for c in cols) + " |")

    print("\n| caveats | cache hit / crate deserialize + verify | full verify / crate verify "
          "| decode + full verify / crate deserialize + verify | decode / crate deserialize "
          "| proxy core: cache hit / no cache | cold / (decode + full verify) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        g = f"verify/{n}"
        v = lambda c: res.get((g, c))
        print(f"| {n} | {r(v('ours_cache_hit'), v('crate_deserialize_verify'))} "
              f"| {r(v('ours_cached'), v('crate_verify'))} "
              f"| {r(v('ours_decode_cached'), v('crate_deserialize_verify'))} "
              f"| {r(v('ours_decode'), v('crate_deserialize'))} "
              f"| {r(v('ours_proxy_core'), v('ours_proxy_core_uncached'))} "
              f"| {r(v('ours_cold'), v('ours_decode_cached'))} |")

    unseal = res.get(("unseal", "")) or next((v for (g, _), v in res.items() if g == "unseal"), None)
    print(f"\nUnseal alone (open the sealed identifier, X25519 box): {t(unseal)}.\n")

    parse = sorted((f, v) for (g, f), v in res.items() if g == "parse")
    if parse:
        print("### Caveat parse, one caveat of each kind\n")
        print("| kind | parse |")
        print("|---|---:|")
        for f, v in parse:
            print(f"| {f} | {t(v)} |")

    att = sorted((int(g.split("/")[1]), f, v) for (g, f), v in res.items() if g.startswith("attenuate/"))
    if att:
        print("\n### Attenuate (add one caveat)\n")
        print("| caveats before | attenuate | decode + attenuate + encode |")
        print("|---:|---:|---:|")
        for n in sorted({a for a, _, _ in att}):
            d = {f: v for a, f, v in att if a == n}
            print(f"| {n} | {t(d.get('attenuate'))} | {t(d.get('decode_attenuate_encode'))} |")

    v10 = res.get(("verify/10", "ours_cache_hit"))
    if v10 is not None:
        ok = "yes" if v10 <= 2000 else "**no**"
        print(f"\nTarget: verify of a 10-caveat cached token ≤ 2 µs: {t(v10)} ({ok}; SHA-256 of the token text, "
              f"cache lookup, every check); the proxy's whole per-request token work on a hit "
              f"{t(res.get(('verify/10', 'ours_proxy_core')))}; a full verification (no cache) "
              f"{t(res.get(('verify/10', 'ours_cached')))}, with decoding "
              f"{t(res.get(('verify/10', 'ours_decode_cached')))}.")

main()
