//! Exact decimal numbers, for the bounds of body caveats (`form amount <= 5000`,
//! `json /max_tokens <= 1000`).
//!
//! Comparing through `f64` is how bounds get crossed: `9007199254740993` reads as
//! `9007199254740992`, `1e400` as infinity (or an error, depending on the parser), and
//! `NaN` compares false with everything, so `NaN <= 5000` and `NaN >= 5000` both "fail" in
//! a way that a check written as `!(x > max)` lets through. Parsers also disagree about
//! what a number *is*: `+5`, `05` (octal in some), `0x10`, `5.`, `.5`, `Infinity`.
//! So a number here is only what every parser reads the same way, compared digit by
//! digit, never rounded:
//!
//! * caveat bounds and form or query values: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`
//!   (`5000`, `5000.00`, `-1.5`);
//! * JSON numbers: the RFC 8259 grammar, which adds an exponent (`5e3`, `5E+3`).
//!
//! Anything else is not a number. Magnitudes are limited to what an IEEE double can hold
//! without overflow or underflow to zero: a nonzero number must lie in
//! [10^-308, 10^308); `1e308` and `1e-309` are refused, so no upstream reads our number
//! as infinity or zero while we compare its exact value.

use std::cmp::Ordering;
use std::fmt;

/// The largest decimal exponent allowed: |x| < 10^308.
const MAX_POINT: i64 = 308;
/// The smallest: |x| >= 10^-308 (`point` is the exponent of 0.DIGITS, so 10^-308 = 0.1e-307).
const MIN_POINT: i64 = -307;

/// Why a text is not a number we compare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not in the grammar at all.
    #[error("{0:?} is not a number; write a plain decimal like 5000 or 12.50")]
    NotANumber(String),
    /// `+5`: some parsers accept it, others do not.
    #[error("{0:?} has a leading '+'; write the number without it")]
    LeadingPlus(String),
    /// `05`: octal to some parsers.
    #[error("{0:?} has a leading zero; write it without (05 is octal to some parsers)")]
    LeadingZero(String),
    /// `5e3` where only plain decimals are read (caveats, form and query values).
    #[error("{0:?} has an exponent; write it as a plain decimal (5e3 is 5000)")]
    Exponent(String),
    /// Beyond what a double holds (overflow to infinity or underflow to zero).
    #[error("{0:?} is out of range: numbers must be 0 or between 1e-308 and 1e308 in magnitude")]
    OutOfRange(String),
}

/// An exact decimal number, as written in a caveat (`5000`, `12.50`, `-3`).
#[derive(Clone, PartialEq, Eq)]
pub struct Decimal {
    text: String,
    neg: bool,
    digits: String,
    point: i64,
}

impl Decimal {
    /// Parses a plain decimal, `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, keeping the text as written.
    pub fn parse(text: &str) -> Result<Decimal, NumberError> {
        let r = scan(text, false)?;
        let digits: String = r.digits().map(char::from).collect();
        Ok(Decimal {
            text: text.to_string(),
            neg: r.neg,
            digits,
            point: r.point,
        })
    }

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn as_ref(&self) -> DecimalRef<'_> {
        DecimalRef {
            neg: self.neg,
            head: self.digits.as_bytes(),
            tail: &[],
            point: self.point,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        crate::caveat::string_heap(&self.text) + crate::caveat::string_heap(&self.digits)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.text)
    }
}

/// A number borrowed from the text it was read from, normalized for comparison:
/// value = ±0.DIGITS × 10^point, where DIGITS (`head` then `tail`) has no leading or
/// trailing zeros; no digits at all is zero. Reading one allocates nothing, so a body
/// full of numbers costs no more than scanning it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecimalRef<'a> {
    neg: bool,
    head: &'a [u8],
    tail: &'a [u8],
    point: i64,
}

impl DecimalRef<'_> {
    fn digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.head.iter().chain(self.tail).copied()
    }

    fn is_zero(&self) -> bool {
        self.head.is_empty() && self.tail.is_empty()
    }

    /// Compares exactly (`-0` equals `0`; `5000`, `5000.00` and `5e3` are equal).
    pub(crate) fn cmp(&self, other: &DecimalRef<'_>) -> Ordering {
        let sign = |d: &DecimalRef<'_>| match (d.is_zero(), d.neg) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        let (a, b) = (sign(self), sign(other));
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        let magnitude = self
            .point
            .cmp(&other.point)
            .then_with(|| self.digits().cmp(other.digits()));
        if a < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

/// Reads `text` as a number: a plain decimal, or with `exponent` a JSON number.
pub(crate) fn scan(text: &str, exponent: bool) -> Result<DecimalRef<'_>, NumberError> {
    let nan = || NumberError::NotANumber(text.to_string());
    let b = text.as_bytes();
    let mut i = 0;
    let neg = b.first() == Some(&b'-');
    if neg {
        i += 1;
    } else if b.first() == Some(&b'+') {
        return Err(NumberError::LeadingPlus(text.to_string()));
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int = &b[int_start..i];
    if int.is_empty() {
        return Err(nan());
    }
    if int.len() > 1 && int[0] == b'0' {
        return Err(NumberError::LeadingZero(text.to_string()));
    }
    let mut frac: &[u8] = &[];
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac = &b[start..i];
        if frac.is_empty() {
            return Err(nan());
        }
    }
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        if !exponent {
            return Err(NumberError::Exponent(text.to_string()));
        }
        i += 1;
        let minus = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            // Saturate: any exponent this large is out of range anyway.
            exp = (exp * 10 + i64::from(b[i] - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return Err(nan());
        }
        if minus {
            exp = -exp;
        }
    }
    if i != b.len() {
        return Err(nan());
    }
    // 0.(int frac) × 10^(len(int) + exp), then strip zeros on both ends.
    let mut point = i64::try_from(int.len()).unwrap_or(i64::MAX).saturating_add(exp);
    let (mut head, mut tail) = (int, frac);
    if head == b"0" {
        let zeros = tail.iter().take_while(|&&d| d == b'0').count();
        point = point.saturating_sub(1 + i64::try_from(zeros).unwrap_or(i64::MAX));
        head = &tail[zeros..];
        tail = &[];
    }
    while let [rest @ .., b'0'] = tail {
        tail = rest;
    }
    if tail.is_empty() {
        while let [rest @ .., b'0'] = head {
            head = rest;
        }
    }
    let r = DecimalRef {
        neg,
        head,
        tail,
        point,
    };
    if !r.is_zero() && !(MIN_POINT..=MAX_POINT).contains(&r.point) {
        return Err(NumberError::OutOfRange(text.to_string()));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        let x = scan(a, true).unwrap_or_else(|e| panic!("{a}: {e}"));
        let y = scan(b, true).unwrap_or_else(|e| panic!("{b}: {e}"));
        x.cmp(&y)
    }

    #[test]
    fn five_thousand_point_zero_zero_equals_five_e_three() {
        assert_eq!(cmp("5000", "5000.00"), Ordering::Equal);
        assert_eq!(cmp("5000", "5e3"), Ordering::Equal);
        assert_eq!(cmp("5000", "5E+3"), Ordering::Equal);
        assert_eq!(cmp("5000", "50000e-1"), Ordering::Equal);
        assert_eq!(cmp("5000", "0.5e4"), Ordering::Equal);
    }

    #[test]
    fn compares_exactly_where_doubles_round() {
        // Equal as f64, different as numbers.
        assert_eq!(cmp("9007199254740993", "9007199254740992"), Ordering::Greater);
        assert_eq!(cmp("5000.0000000000000001", "5000"), Ordering::Greater);
        assert_eq!(cmp("0.1", "0.10000000000000000001"), Ordering::Less);
    }

    #[test]
    fn signs_and_zero_order_correctly() {
        assert_eq!(cmp("-0", "0"), Ordering::Equal);
        assert_eq!(cmp("-0.0e5", "0"), Ordering::Equal);
        assert_eq!(cmp("-1", "0"), Ordering::Less);
        assert_eq!(cmp("-10", "-9"), Ordering::Less);
        assert_eq!(cmp("-0.5", "-0.25"), Ordering::Less);
        assert_eq!(cmp("0.001", "0.01"), Ordering::Less);
        assert_eq!(cmp("99", "100"), Ordering::Less);
        assert_eq!(cmp("1.5", "1.25"), Ordering::Greater);
    }

    #[test]
    fn nan_infinity_hex_and_odd_spellings_are_not_numbers() {
        for t in [
            "NaN",
            "Infinity",
            "-Infinity",
            "0x10",
            "5.",
            ".5",
            "",
            "-",
            "1e",
            "1e+",
            "5 ",
            " 5",
            "1_000",
            "5,000",
        ] {
            assert!(matches!(scan(t, true), Err(NumberError::NotANumber(_))), "{t:?}");
        }
    }

    #[test]
    fn leading_plus_is_not_a_number() {
        assert!(matches!(scan("+5", true), Err(NumberError::LeadingPlus(_))));
    }

    #[test]
    fn leading_zeros_are_not_numbers() {
        assert!(matches!(scan("05", true), Err(NumberError::LeadingZero(_))));
        assert!(matches!(scan("-007", true), Err(NumberError::LeadingZero(_))));
        assert!(scan("0.5", true).is_ok());
        assert!(scan("0", true).is_ok());
    }

    #[test]
    fn exponents_only_where_json_allows_them() {
        assert!(matches!(Decimal::parse("5e3"), Err(NumberError::Exponent(_))));
        assert!(scan("5e3", true).is_ok());
    }

    #[test]
    fn one_e_four_hundred_is_out_of_range() {
        for t in ["1e400", "-1e400", "1e308", "1e-309", "1e99999999999999999999999"] {
            assert!(matches!(scan(t, true), Err(NumberError::OutOfRange(_))), "{t}");
        }
        assert!(scan("9.99e307", true).is_ok());
        assert!(scan("1e-308", true).is_ok());
        assert!(scan("0e99999999999999", true).is_ok(), "zero is zero");
        let huge = format!("1{}", "0".repeat(400));
        assert!(matches!(Decimal::parse(&huge), Err(NumberError::OutOfRange(_))));
    }

    #[test]
    fn decimals_print_as_written() {
        let d = Decimal::parse("5000.00").expect("number");
        assert_eq!(d.to_string(), "5000.00");
        assert_eq!(d.as_ref().cmp(&scan("5e3", true).expect("n")), Ordering::Equal);
    }
}
