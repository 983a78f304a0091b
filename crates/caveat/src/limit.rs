//! How often a token may be used: `uses <= N` and `rate <= N/DURATION`.
//!
//! The core cannot count (it keeps no state); it parses these caveats, explains them, lets
//! every per-request check pass them, and hands the verifier one [`Limit`] per caveat with
//! the key its count lives under. The key is derived while the HMAC chain is walked, from
//! the token family, the chain's signature just before the caveat and the caveat's text,
//! so the count is shared by a token and everything attenuated from it, and nobody can
//! write a caveat that points at another token's counter (they would need that chain's
//! signature). The proxy charges the limits only after every other check allowed the
//! request, so a forged or denied request never spends a count.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::crypto;

/// The largest `N` of `uses <= N` (kept exact by stores that count in doubles, e.g. Lua).
pub const MAX_USES: u64 = 1_000_000_000_000_000;
/// The largest `N` of `rate <= N/DURATION`: a rolling window remembers each request in it.
pub const MAX_RATE: u64 = 100_000;
/// The longest rate window.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);
/// The most usage and rate caveats one token may carry (with its discharges'): each costs
/// a counter per request, so more would multiply the work and storage one request costs.
pub const MAX_LIMITS: usize = 8;

/// A rate's window as written: a count and a unit (`1m`, `30s`, `24h`, `7d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    count: u32,
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    fn secs(self) -> u64 {
        match self {
            Unit::Second => 1,
            Unit::Minute => 60,
            Unit::Hour => 3600,
            Unit::Day => 86_400,
        }
    }
    fn letter(self) -> char {
        match self {
            Unit::Second => 's',
            Unit::Minute => 'm',
            Unit::Hour => 'h',
            Unit::Day => 'd',
        }
    }
    fn word(self) -> &'static str {
        match self {
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
        }
    }
}

impl Window {
    /// The window's length.
    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.count) * self.unit.secs())
    }

    /// "minute", "5 minutes".
    fn words(self) -> String {
        if self.count == 1 {
            self.unit.word().to_string()
        } else {
            format!("{} {}s", self.count, self.unit.word())
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.letter())
    }
}

/// A positive decimal integer in canonical form (no sign, no leading zero), at most `max`.
pub(crate) fn parse_count(w: &str, max: u64, what: &str) -> Result<u64, String> {
    let canonical = !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) && !w.starts_with('0');
    let n = if canonical { w.parse::<u64>().ok() } else { None };
    match n {
        Some(n) if n <= max => Ok(n),
        Some(_) | None if canonical => Err(format!("{what} {w} is too large; at most {max}")),
        _ => Err(format!(
            "{w:?} is not a count; expected a whole number from 1 to {max}, without leading zeros"
        )),
    }
}

/// `N/DURATION` of a rate caveat: `60/1m`, `1000/1h`, `5/30s`, `10000/1d`.
pub(crate) fn parse_rate(w: &str) -> Result<(u64, Window), String> {
    let expected = "expected N/DURATION like 60/1m (units s, m, h, d)";
    let Some((n, dur)) = w.split_once('/') else {
        return Err(format!("{w:?} is not a rate; {expected}"));
    };
    let max = parse_count(n, MAX_RATE, "a rate of")?;
    let unit = match dur.chars().last() {
        Some('s') => Unit::Second,
        Some('m') => Unit::Minute,
        Some('h') => Unit::Hour,
        Some('d') => Unit::Day,
        _ => return Err(format!("{dur:?} is not a duration; {expected}")),
    };
    let digits = &dur[..dur.len() - 1];
    let count = parse_count(digits, u64::from(u32::MAX), "a window of")
        .map_err(|_| format!("{dur:?} is not a duration; {expected}"))?;
    let window = Window {
        count: u32::try_from(count).map_err(|_| format!("{dur:?} is too long"))?,
        unit,
    };
    if window.duration() > MAX_WINDOW {
        return Err(format!("the window {dur} is too long; at most 366d"));
    }
    Ok((max, window))
}

/// Explains a rate: "at most 60 per minute".
pub(crate) fn explain_rate(max: u64, window: Window) -> String {
    format!("at most {max} per {}", window.words())
}

/// Explains a usage limit: "at most 20 uses in total".
pub(crate) fn explain_uses(max: u64) -> String {
    if max == 1 {
        "at most 1 use in total".into()
    } else {
        format!("at most {max} uses in total")
    }
}

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// At most this many requests, ever.
    Uses(u64),
    /// At most `max` requests in any window of this length (a rolling window: every
    /// request in the last `window` counts, not a fixed clock bucket).
    Rate {
        /// Requests allowed per window.
        max: u64,
        /// The window's length.
        window: Duration,
    },
}

/// One usage or rate caveat of a verified token, with the key its count lives under.
#[derive(Clone, PartialEq, Eq)]
pub struct Limit {
    /// SHA-256 over the token family, the chain's signature before the caveat and the
    /// caveat's text: the same for every token attenuated from the one that added it.
    pub key: [u8; 32],
    /// What is counted.
    pub kind: LimitKind,
    /// The caveat's text, to name it in a refusal.
    pub caveat: String,
    /// When every token that can spend this count has expired: the earliest of the sealed
    /// expiry and the `time <` caveats *before* this one in its chain. A later caveat (a
    /// short-lived child's, a discharge's) never shortens it, so attenuating never resets a
    /// count. `None`: the count may be needed for as long as the store keeps anything.
    pub expires: Option<SystemTime>,
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is derived from a chain signature: show only what names the caveat.
        f.debug_struct("Limit")
            .field("kind", &self.kind)
            .field("caveat", &self.caveat)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Limit {
    /// The key's hex form, as stores name counters.
    pub fn key_hex(&self) -> String {
        hex::encode(self.key)
    }
}

/// The counter key of a caveat: SHA-256 of a domain label, then the family id, the chain
/// signature just before the caveat and the caveat text, each length-prefixed so no two
/// different triples hash the same input.
pub(crate) fn counter_key(kid: &str, sig_before: &[u8; 32], caveat: &[u8]) -> [u8; 32] {
    let mut input = Vec::with_capacity(32 + kid.len() + 32 + caveat.len());
    input.extend_from_slice(b"macaroon-limit-v1\n");
    for part in [kid.as_bytes(), sig_before.as_slice(), caveat] {
        input.extend_from_slice(&(part.len() as u64).to_be_bytes());
        input.extend_from_slice(part);
    }
    crypto::sha256(&input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print_back() {
        for (text, max, secs) in [
            ("60/1m", 60, 60),
            ("1/1s", 1, 1),
            ("1000/1h", 1000, 3600),
            ("10000/1d", 10_000, 86_400),
            ("5/30s", 5, 30),
        ] {
            let (n, w) = parse_rate(text).expect(text);
            assert_eq!((n, w.duration()), (max, Duration::from_secs(secs)), "{text}");
            assert_eq!(format!("{n}/{w}"), text);
        }
    }

    #[test]
    fn bad_rates_say_what_is_expected() {
        for bad in [
            "60", "60/", "/1m", "060/1m", "60/01m", "60/1", "60/m", "60/1w", "0/1m", "60/0m", "-1/1m",
            "60/1M", "60/ 1m", "60/1m/2",
        ] {
            let e = parse_rate(bad).expect_err(bad);
            assert!(e.contains("expected") || e.contains("at most"), "{bad}: {e}");
        }
        assert!(parse_rate("100001/1m")
            .expect_err("cap")
            .contains("at most 100000"));
        assert!(parse_rate("1/367d").expect_err("cap").contains("366d"));
    }

    #[test]
    fn counts_are_canonical_positive_and_bounded() {
        assert_eq!(parse_count("20", MAX_USES, "uses"), Ok(20));
        for bad in ["0", "020", "+1", "1.5", "", "x"] {
            assert!(parse_count(bad, MAX_USES, "uses").is_err(), "{bad}");
        }
        assert!(parse_count("99999999999999999999", MAX_USES, "uses")
            .expect_err("big")
            .contains("too large"));
    }

    #[test]
    fn explanations_read_plainly() {
        assert_eq!(explain_uses(20), "at most 20 uses in total");
        assert_eq!(explain_uses(1), "at most 1 use in total");
        let (n, w) = parse_rate("60/1m").expect("rate");
        assert_eq!(explain_rate(n, w), "at most 60 per minute");
        let (n, w) = parse_rate("5/30s").expect("rate");
        assert_eq!(explain_rate(n, w), "at most 5 per 30 seconds");
    }

    #[test]
    fn each_part_of_a_counter_key_matters() {
        let sig = [7u8; 32];
        let k = counter_key("aa", &sig, b"uses <= 5");
        assert_ne!(k, counter_key("ab", &sig, b"uses <= 5"));
        assert_ne!(k, counter_key("aa", &[8u8; 32], b"uses <= 5"));
        assert_ne!(k, counter_key("aa", &sig, b"uses <= 6"));
        // Length prefixes: moving bytes between parts changes the key.
        assert_ne!(counter_key("a", &sig, b"auses"), counter_key("aa", &sig, b"uses"));
        assert_eq!(k, counter_key("aa", &sig, b"uses <= 5"));
    }
}
