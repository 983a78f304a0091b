//! Durations and times as people type them.

use std::time::{Duration, SystemTime};

use anyhow::Context;

/// Parses a human duration ("10m", "1h 30m", "7d") for the flag `flag`.
pub fn parse_duration(text: &str, flag: &str) -> anyhow::Result<Duration> {
    let d = humantime::parse_duration(text.trim())
        .with_context(|| format!("{flag} {text:?} is not a duration; use e.g. 30s, 10m, 1h 30m, 7d"))?;
    if d.is_zero() {
        anyhow::bail!("{flag} {text:?} is zero; give a positive duration");
    }
    Ok(d)
}

/// Drops sub-second precision (caveat times are to the second).
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Parses an RFC 3339 UTC time, or a duration from `now`.
pub fn parse_time_or_duration(text: &str, flag: &str, now: SystemTime) -> anyhow::Result<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text.trim()) {
        if text.trim().ends_with(['Z', 'z']) {
            return Ok(whole_seconds(t));
        }
    }
    let d = humantime::parse_duration(text.trim()).with_context(|| {
        format!("{flag} {text:?} is neither an RFC 3339 UTC time (2026-12-01T09:00:00Z) nor a duration (10m)")
    })?;
    Ok(whole_seconds(now + d))
}
