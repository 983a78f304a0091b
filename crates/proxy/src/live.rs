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
    // A new reloadable setting (the approval settings, say): add its field here, fill it
    // in `from_config`, name its key in `KEYS` and describe it in `changes`.
}

impl Live {
    /// The `run` keys (long flag names) a reload applies; the others need a restart.
    pub const KEYS: &'static [&'static str] = &["allow-host"];

    /// The reloadable settings of `c`.
    pub fn from_config(c: &Config) -> Self {
        Live {
            allow_hosts: c.allow_hosts.clone(),
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
        };
        let b = Live {
            allow_hosts: vec![HostPattern::parse("api.stripe.com").expect("host")],
        };
        assert_eq!(
            a.changes(&b),
            vec!["allow-host: [api.stripe.com, *.example.org] -> [api.stripe.com]"]
        );
        assert!(a.changes(&a.clone()).is_empty());
        assert!(!b.host_allowed(&Host::normalize("x.example.org").expect("host")));
        assert!(Live { allow_hosts: vec![] }.host_allowed(&Host::normalize("x.example.org").expect("host")));
    }
}
