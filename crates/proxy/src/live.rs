//! The settings a reload (SIGHUP) can change while the proxy serves: swapped whole, read
//! lock-free on the request path (`arc_swap`), so a request sees either the old set or
//! the new one, never a mix, and connections in flight are not touched.

use caveat::Host;

use crate::config::{Config, HostPattern};

/// The reloadable part of [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// `--allow-host`: the only hosts a token may be sealed for (empty: any).
    pub allow_hosts: Vec<HostPattern>,
    /// `--approval-wait`: how long a request needing approval is held.
    pub approval_wait: std::time::Duration,
    /// `--approval-ttl`: how long an undecided approval stays open.
    pub approval_ttl: std::time::Duration,
    // A new reloadable setting: add its field here, fill it in `from_config`, name its key
    // in `KEYS` and describe it in `changes`.
}

impl Live {
    /// The `run` keys (long flag names) a reload applies; the others need a restart.
    pub const KEYS: &'static [&'static str] = &["allow-host", "approval-wait", "approval-ttl"];

    /// The reloadable settings of `c`.
    pub fn from_config(c: &Config) -> Self {
        Live {
            allow_hosts: c.allow_hosts.clone(),
            approval_wait: c.approval_wait,
            approval_ttl: c.approval_ttl,
        }
    }

    /// True if a token may be sealed for `host` (always, without `--allow-host`).
    pub fn host_allowed(&self, host: &Host) -> bool {
        self.allow_hosts.is_empty() || self.allow_hosts.iter().any(|p| p.matches(host))
    }

    /// What differs from `self` in `new`, one line per setting, for the reload log.
    pub fn changes(&self, new: &Live) -> Vec<String> {
        let mut out = Vec::new();
        if self.allow_hosts != new.allow_hosts {
            out.push(format!(
                "allow-host: {} -> {}",
                patterns(&self.allow_hosts),
                patterns(&new.allow_hosts)
            ));
        }
        for (key, old, new) in [
            ("approval-wait", self.approval_wait, new.approval_wait),
            ("approval-ttl", self.approval_ttl, new.approval_ttl),
        ] {
            if old != new {
                out.push(format!(
                    "{key}: {} -> {}",
                    humantime::format_duration(old),
                    humantime::format_duration(new)
                ));
            }
        }
        out
    }
}

/// `[api.stripe.com, *.googleapis.com]`, or `(any host)`.
fn patterns(p: &[HostPattern]) -> String {
    if p.is_empty() {
        return "(any host)".into();
    }
    let shown: Vec<String> = p
        .iter()
        .map(|p| match p {
            HostPattern::Exact(h) => h.to_string(),
            HostPattern::Below(suffix) => format!("*{suffix}"),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_the_old_and_new_hosts() {
        let a = Live {
            allow_hosts: vec![
                HostPattern::parse("api.stripe.com").expect("host"),
                HostPattern::parse("*.example.org").expect("pattern"),
            ],
            ..Live::from_config(&Config::local())
        };
        let b = Live {
            allow_hosts: vec![HostPattern::parse("api.stripe.com").expect("host")],
            ..Live::from_config(&Config::local())
        };
        assert_eq!(
            a.changes(&b),
            vec!["allow-host: [api.stripe.com, *.example.org] -> [api.stripe.com]"]
        );
        assert!(a.changes(&a.clone()).is_empty());
        let longer = Live {
            approval_wait: std::time::Duration::from_secs(20),
            ..a.clone()
        };
        assert_eq!(a.changes(&longer), vec!["approval-wait: 50s -> 20s"]);
        assert!(!b.host_allowed(&Host::normalize("x.example.org").expect("host")));
        assert!(Live::from_config(&Config::local())
            .host_allowed(&Host::normalize("x.example.org").expect("host")));
    }
}
