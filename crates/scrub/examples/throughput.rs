//! Scrubbing throughput on 1 MiB bodies, this matcher against the fixed-spelling
//! aho-corasick scan it replaced:
//! `cargo run --release -p macaroon-scrub --example throughput`.

use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use scrub::{Patterns, Stream};

const KEY: &str = "sk_live_51HxEchoKey/Ab+Cd0123456789xyzABC";
const MIB: usize = 1 << 20;

/// The nine fixed spellings the old scrubber searched for.
fn old_patterns(s: &[u8]) -> AhoCorasick {
    let pair = [s, b":"].concat();
    let pct = |hex: &[u8; 16]| -> Vec<u8> {
        s.iter()
            .flat_map(|&b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    vec![b]
                } else {
                    vec![b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]
                }
            })
            .collect()
    };
    let slash: Vec<u8> = s
        .iter()
        .flat_map(|&b| if b == b'/' { vec![b'\\', b] } else { vec![b] })
        .collect();
    let unicode: Vec<u8> = s
        .iter()
        .flat_map(|b| format!("\\u{b:04x}").into_bytes())
        .collect();
    let pats = vec![
        s.to_vec(),
        pct(b"0123456789ABCDEF"),
        pct(b"0123456789abcdef"),
        STANDARD.encode(&pair).into_bytes(),
        STANDARD.encode(s).trim_end_matches('=').as_bytes().to_vec(),
        URL_SAFE_NO_PAD.encode(s).into_bytes(),
        URL_SAFE.encode(&pair).into_bytes(),
        slash,
        unicode,
    ];
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(pats)
        .expect("ac")
}

/// 1 MiB of API JSON: ids, URLs with escapes, e-mail addresses, base64, `\u` escapes.
fn json_body() -> Vec<u8> {
    let mut out = Vec::with_capacity(MIB + 512);
    let mut i = 0u64;
    while out.len() < MIB {
        out.extend_from_slice(
            format!(
                "{{\"id\":\"ch_3Nx{i:08}sk\",\"object\":\"charge\",\"amount\":{},\"currency\":\"usd\",\
                 \"description\":\"Order \\u0023{i} for someone@example.com \\u2014 thanks\",\
                 \"url\":\"https://api.example.com/v1/charges?starting_after=ch_{i}&limit=10&q=a%2Fb%26c\",\
                 \"receipt\":\"cmVjZWlwdC17aX0tc2lnbmVkLWJ5LXNvbWVib2R5\",\"status\":\"succeeded\"}},\n",
                i * 37 % 100_000
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(MIB);
    out
}

/// 1 MiB of pseudo-random bytes (a binary download).
fn binary_body() -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..MIB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Median time of `f` over `rounds` runs.
fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..rounds)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[rounds / 2]
}

fn main() {
    let old = old_patterns(KEY.as_bytes());
    let new = Patterns::new(&[KEY], false).expect("patterns");
    println!(
        "automaton: {} states, {} start pairs",
        new.states(),
        new.start_pairs()
    );
    for (name, body) in [("JSON", json_body()), ("binary", binary_body())] {
        for chunk in [16 * 1024, MIB] {
            let before = median(31, || {
                for c in body.chunks(chunk) {
                    std::hint::black_box(old.find(c));
                }
            });
            let after = median(31, || {
                let mut s = Stream::default();
                for c in body.chunks(chunk) {
                    std::hint::black_box(s.push(&new, c));
                }
                std::hint::black_box(s.finish());
            });
            println!(
                "{name:6} {:>4} KiB chunks: before {:>7.1} µs/MiB, after {:>7.1} µs/MiB ({:.1}×)",
                chunk / 1024,
                before.as_secs_f64() * 1e6,
                after.as_secs_f64() * 1e6,
                after.as_secs_f64() / before.as_secs_f64()
            );
        }
    }
}
