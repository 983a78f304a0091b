//! `macaroon attenuate`: add caveats offline and print the narrower token.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context};
use caveat::{Caveat, Host, Method, PathGlob, ProxyKeyPair, RequestPath};
use macaroon_home::KeyPairFiles;

use crate::cli::{AttenuateArgs, Attenuation};
use crate::input::{read_token, Input};
use crate::store::Store;

impl Attenuation {
    /// True when no flag was given.
    pub fn is_empty(&self) -> bool {
        self.expires.is_none()
            && self.not_before.is_none()
            && self.paths.is_empty()
            && self.path_globs.is_empty()
            && self.methods.is_empty()
            && self.hosts.is_empty()
            && self.queries.is_empty()
            && self.forms.is_empty()
            && self.jsons.is_empty()
            && self.mcp_tools.is_empty()
            && self.mcp_methods.is_empty()
            && self.graphql_operations.is_empty()
            && self.graphql_fields.is_empty()
            && self.max_body.is_none()
            && self.uses.is_none()
            && self.rate.is_none()
            && self.caveats.is_empty()
            && self.label.is_none()
    }

    /// Turns the flags into caveats, checking each one; relative times count from `now`.
    pub fn caveats(&self, now: SystemTime) -> anyhow::Result<Vec<Caveat>> {
        let mut out = Vec::new();
        self.request_line(now, &mut out)?;
        self.content(&mut out)?;
        // Usage and rate caveats last: a count is kept as long as the expiry in force at
        // its caveat, so `--expires 1h --uses 100` must put the time first.
        out.sort_by_key(is_counted);
        // The label last: it only names the holder.
        if let Some(l) = &self.label {
            caveat::check_label(l).map_err(|e| anyhow::anyhow!("--label: {e}"))?;
            out.push(Caveat::Label(l.clone()));
        }
        Ok(out)
    }

    /// Time, method, host and path flags.
    fn request_line(&self, now: SystemTime, out: &mut Vec<Caveat>) -> anyhow::Result<()> {
        if let Some(d) = &self.expires {
            let d = crate::time::parse_duration(d, "--expires")?;
            out.push(Caveat::TimeBefore(crate::time::whole_seconds(now + d)));
        }
        if let Some(t) = &self.not_before {
            out.push(Caveat::TimeAfter(crate::time::parse_time_or_duration(
                t,
                "--not-before",
                now,
            )?));
        }
        if !self.methods.is_empty() {
            let methods = self
                .methods
                .iter()
                .map(|m| {
                    Method::parse_canonical(&m.to_ascii_uppercase())
                        .with_context(|| format!("--method {m:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            out.push(Caveat::MethodIn(methods));
        }
        if !self.hosts.is_empty() {
            let hosts = self
                .hosts
                .iter()
                .map(|h| Host::normalize(h).with_context(|| format!("--host {h:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            out.push(Caveat::HostIn(hosts));
        }
        if !self.paths.is_empty() {
            let paths = self
                .paths
                .iter()
                .map(|p| {
                    if p.contains('*') {
                        bail!("--path {p:?} contains '*'; use --path-glob for patterns");
                    }
                    RequestPath::parse(p).with_context(|| format!("--path {p:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            out.push(Caveat::PathPrefix(paths));
        }
        if !self.path_globs.is_empty() {
            let globs = self
                .path_globs
                .iter()
                .map(|g| PathGlob::parse(g).with_context(|| format!("--path-glob {g:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            out.push(Caveat::PathGlob(globs));
        }
        Ok(())
    }

    /// What the request contains (query, body, MCP, GraphQL), how often, and `--caveat`.
    fn content(&self, out: &mut Vec<Caveat>) -> anyhow::Result<()> {
        // Each is parsed like --caveat, with its field in front: a typo names the flag.
        for (flag, field, exprs) in [
            ("--query", "query", &self.queries),
            ("--form", "form", &self.forms),
            ("--json", "json", &self.jsons),
        ] {
            for e in exprs {
                out.push(Caveat::parse(&format!("{field} {e}")).with_context(|| format!("{flag} {e:?}"))?);
            }
        }
        // Repeated values are alternatives: one `FIELD KIND in V...` caveat per flag.
        for (flag, prefix, values) in [
            ("--mcp-tool", "mcp tool in", &self.mcp_tools),
            ("--mcp-method", "mcp method in", &self.mcp_methods),
            (
                "--graphql-operation",
                "graphql operation in",
                &self.graphql_operations,
            ),
            ("--graphql-field", "graphql field in", &self.graphql_fields),
        ] {
            if let Some(v) = values
                .iter()
                .find(|v| v.is_empty() || v.contains(char::is_whitespace))
            {
                bail!("{flag} {v:?}: a value holds no space and is not empty; give one value per {flag}");
            }
            if !values.is_empty() {
                let text = format!("{prefix} {}", values.join(" "));
                out.push(Caveat::parse(&text).with_context(|| format!("{flag} {:?}", values.join(" ")))?);
            }
        }
        if let Some(n) = self.max_body {
            out.push(Caveat::BodySize(n));
        }
        for (flag, field, value) in [("--uses", "uses", &self.uses), ("--rate", "rate", &self.rate)] {
            if let Some(v) = value {
                out.push(Caveat::parse(&format!("{field} <= {v}")).with_context(|| format!("{flag} {v:?}"))?);
            }
        }
        for c in &self.caveats {
            out.push(Caveat::parse(c).context("--caveat")?);
        }
        Ok(())
    }
}

fn is_counted(c: &Caveat) -> bool {
    matches!(c, Caveat::Uses(_) | Caveat::Rate { .. })
}

/// Refuses a token that would carry more than [`caveat::MAX_LIMITS`] usage and rate
/// caveats (the proxy refuses such a token with 403 `too_many_limits`).
pub fn refuse_too_many_limits(parent: &caveat::Token, added: &[Caveat]) -> anyhow::Result<()> {
    let had = parent
        .first_party()
        .iter()
        .filter_map(|raw| std::str::from_utf8(raw).ok().and_then(|t| Caveat::parse(t).ok()))
        .filter(is_counted)
        .count();
    let adding = added.iter().filter(|c| is_counted(c)).count();
    if adding > 0 && had + adding > caveat::MAX_LIMITS {
        bail!(
            "the token already carries {had} usage and rate caveats; with {adding} more it would \
             have {}, and a token may carry at most {} (the proxy refuses more): narrow an \
             earlier token of its family instead, or leave out --uses/--rate",
            had + adding,
            caveat::MAX_LIMITS
        );
    }
    Ok(())
}

/// HTTP methods a request can carry; anything else in a caveat is probably a typo.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

/// What is likely a mistake in narrowing `parent` with `added` (the token is still made).
fn warnings(parent: &caveat::Token, added: &[Caveat], now: SystemTime) -> Vec<String> {
    let existing: Vec<Caveat> = parent
        .first_party()
        .iter()
        .filter_map(|raw| std::str::from_utf8(raw).ok().and_then(|t| Caveat::parse(t).ok()))
        .collect();
    let all: Vec<&Caveat> = existing.iter().chain(added).collect();
    let mut out = Vec::new();
    let expiries: Vec<SystemTime> = all
        .iter()
        .filter_map(|c| match c {
            Caveat::TimeBefore(t) => Some(*t),
            _ => None,
        })
        .collect();
    match expiries.iter().min() {
        Some(e) if *e <= now => out.push(format!(
            "the token already expired at {}: the narrower one is refused too",
            caveat::fmt_time(*e)
        )),
        Some(_) => {}
        None => out.push(
            "no expiry: this token works until it is revoked; hand agents short-lived ones (--expires 10m)"
                .to_string(),
        ),
    }
    // Methods: each caveat names the allowed ones; together, only those in every one.
    let mut allowed: Option<Vec<&caveat::Method>> = None;
    for c in &all {
        let names: Vec<&caveat::Method> = match c {
            Caveat::MethodIs(m) => vec![m],
            Caveat::MethodIn(ms) => ms.iter().collect(),
            _ => continue,
        };
        for m in &names {
            if !METHODS.contains(&m.as_str()) {
                out.push(format!(
                    "{m} is not a standard HTTP method: a typo for one of {}?",
                    METHODS.join(", ")
                ));
            }
        }
        allowed = Some(match allowed {
            None => names,
            Some(prev) => prev.into_iter().filter(|m| names.contains(m)).collect(),
        });
    }
    if allowed.is_some_and(|a| a.is_empty()) {
        out.push("the method caveats together allow no method at all: this token allows nothing".to_string());
    }
    out
}

/// The hosts the token's key was sealed for, when this machine can know them: opened with
/// this home's proxy key as `verify` does, else what the store recorded when the key was
/// wrapped here. `None` when neither is at hand: then nothing is said about hosts.
fn sealed_hosts(input: &Input, home: &Path, store: &Store) -> Option<Vec<Host>> {
    if let Ok(keys) = ProxyKeyPair::load_all(home) {
        if let Ok(payload) = caveat::unseal(&input.token, &keys) {
            return Some(payload.hosts.clone());
        }
    }
    let entry = store.entry(input.name.as_deref()?).ok()??;
    entry
        .hosts
        .iter()
        .map(|h| Host::parse_canonical(h).ok())
        .collect()
}

/// Host caveats among `added` that name hosts outside `sealed`: the proxy never sends the
/// key there, so such a caveat narrows to requests that are refused anyway.
fn host_warnings(added: &[Caveat], sealed: &[Host]) -> Vec<String> {
    let list = |hs: &[Host]| hs.iter().map(Host::as_str).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for c in added {
        let hosts = match c {
            Caveat::HostIs(h) => std::slice::from_ref(h),
            Caveat::HostIn(hs) => hs.as_slice(),
            _ => continue,
        };
        let outside: Vec<Host> = hosts.iter().filter(|h| !sealed.contains(h)).cloned().collect();
        if outside.is_empty() {
            continue;
        }
        out.push(format!(
            "host {} is outside the hosts the key was wrapped for ({}): the proxy never sends the key \
             there, so requests to it are refused",
            list(&outside),
            list(sealed)
        ));
        if outside.len() == hosts.len() {
            out.push(
                "the host caveat leaves none of the wrapped hosts: this token allows nothing".to_string(),
            );
        }
    }
    out
}

/// Says when `token` is in a branch this home's proxy has revoked: a token narrowed from
/// it would be refused too. Checks the token's own branch and, when the family is known
/// (this home wrapped it) or its proxy key is here, the family and every branch on the
/// chain, as `verify` does.
pub fn revoked_warning(token: &caveat::Token, home: &Path, store: &Store) -> Option<String> {
    let revoked = macaroon_home::revoked(home).ok()?;
    if revoked.is_empty() {
        return None;
    }
    let mut ids = vec![token.branch_id()];
    if let Ok(keys) = ProxyKeyPair::load_all(home) {
        if let Ok(payload) = caveat::unseal(token, &keys) {
            ids.push(payload.kid.to_ascii_lowercase());
            ids.extend(caveat::chain_branch_ids(token, &payload.root));
        }
    }
    if let Some(kid) = store.family_of(token).and_then(|e| e.kid) {
        ids.push(kid.to_ascii_lowercase());
    }
    let hit = ids.iter().find(|id| revoked.contains(*id))?;
    Some(if hit.len() == 32 {
        format!(
            "this token's family {hit} is revoked on this home's proxy: the narrowed token is refused too \
             (lift it with: macaroon-proxy revoke --undo --family {hit})"
        )
    } else {
        format!(
            "this token is in a revoked branch ({}) on this home's proxy: the narrowed token is refused too \
             (lift it with: macaroon-proxy revoke --undo {hit})",
            &hit[..16]
        )
    })
}

/// The label a command's (exec) or file's (mount) token gets unless `--label` says
/// otherwise: its base name, in the label alphabet (`python3.12` stays, `My Tool` becomes `my-tool`); none when nothing
/// of it is left.
pub fn default_label(program: &str) -> Option<String> {
    let base = std::path::Path::new(program)
        .file_name()?
        .to_string_lossy()
        .to_ascii_lowercase();
    let mut label: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(caveat::MAX_LABEL);
    let label = label.trim_matches('-').to_string();
    caveat::check_label(&label).ok().map(|()| label)
}

/// Runs `attenuate`.
pub fn run(args: AttenuateArgs, home: &Path, store: &Store) -> anyhow::Result<()> {
    let AttenuateArgs {
        token,
        attenuation,
        third_party,
        format,
        strict,
    } = args;
    if attenuation.is_empty() && third_party.third_party.is_none() && !third_party.approval {
        bail!(
            "nothing to add: give at least one of --expires, --not-before, --method, --host, \
             --path, --path-glob, --query, --form, --json, --max-body, --uses, --rate, --caveat, \
             --label, --approval or --third-party"
        );
    }
    // Check every flag before reading the token, so a typo never consumes stdin.
    let now = SystemTime::now();
    let caveats = attenuation.caveats(now)?;
    let approval_scope = third_party
        .approval
        .then(|| caveat::ApprovalScope::parse(&third_party.approval_scope))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--approval-scope: {e}"))?;
    let input = read_token(token.token.as_deref(), store)?;
    refuse_too_many_limits(&input.token, &caveats)?;
    let mut warnings = warnings(&input.token, &caveats, now);
    warnings.extend(revoked_warning(&input.token, home, store));
    let narrows_hosts = caveats
        .iter()
        .any(|c| matches!(c, Caveat::HostIs(_) | Caveat::HostIn(_)));
    if let Some(sealed) = narrows_hosts.then(|| sealed_hosts(&input, home, store)).flatten() {
        warnings.extend(host_warnings(&caveats, &sealed));
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if strict && !warnings.is_empty() {
        bail!("--strict: {} warning(s) above; no token printed", warnings.len());
    }
    let mut narrowed = caveats.iter().fold(input.token, |t, c| t.attenuate(c));
    if let (Some(location), Some(key), Some(id)) = (
        &third_party.third_party,
        &third_party.third_party_key,
        &third_party.caveat_id,
    ) {
        if key.is_empty() || id.is_empty() {
            bail!("--third-party-key and --caveat-id must not be empty");
        }
        narrowed = narrowed.add_third_party(location, key.as_bytes(), id.as_bytes());
    }
    if let Some(scope) = approval_scope {
        let key = crate::commands::wrap::proxy_key(third_party.proxy_key.as_deref(), home)?;
        if let Some(sealed) = caveat::SealedId::parse(&narrowed.identifier()) {
            if sealed.key_id != key.key_id() {
                bail!(
                    "the token is sealed to proxy key {}, but the proxy key given is {}: an approval is asked of \
                     the proxy that opens the token; pass its public key with --proxy-key (run `macaroon-proxy \
                     key show` where it runs)",
                    sealed.key_id,
                    key.key_id()
                );
            }
        }
        let c = caveat::ApprovalCaveat::new(scope);
        narrowed = narrowed.add_third_party(caveat::APPROVAL_LOCATION, &*c.key, &c.seal(&key));
    }
    println!("{}", narrowed.encode_as(format.into()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_label_is_the_base_name() {
        assert_eq!(
            default_label("/usr/bin/python3.12").as_deref(),
            Some("python3.12")
        );
        assert_eq!(default_label("./My Tool").as_deref(), Some("my-tool"));
        assert_eq!(default_label("curl").as_deref(), Some("curl"));
        assert_eq!(default_label("/").as_deref(), None);
        assert_eq!(default_label("\u{e9}\u{e9}").as_deref(), None);
    }

    #[test]
    fn time_caveats_come_before_counted_ones_whatever_the_flags() {
        let a = Attenuation {
            uses: Some("100".into()),
            rate: Some("5/1m".into()),
            expires: Some("1h".into()),
            caveats: vec!["uses <= 7".into(), "time < 2099-01-01T00:00:00Z".into()],
            ..Attenuation::default()
        };
        let out = a.caveats(SystemTime::now()).expect("caveats");
        let first_counted = out.iter().position(is_counted).expect("counted");
        assert!(out[..first_counted]
            .iter()
            .all(|c| matches!(c, Caveat::TimeBefore(_))));
        assert_eq!(first_counted, 2, "{out:?}");
        assert!(out[first_counted..].iter().all(is_counted));
    }

    #[test]
    fn mcp_and_graphql_flags_become_one_in_caveat_each() {
        let a = Attenuation {
            mcp_tools: vec!["list_issues".into(), "get_issue".into()],
            mcp_methods: vec!["tools/call".into()],
            graphql_operations: vec!["query".into()],
            graphql_fields: vec!["viewer".into(), "repository".into()],
            ..Attenuation::default()
        };
        assert!(!a.is_empty());
        let got: Vec<String> = a
            .caveats(SystemTime::now())
            .expect("caveats")
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "mcp tool in list_issues get_issue",
                "mcp method in tools/call",
                "graphql operation in query",
                "graphql field in viewer repository",
            ]
        );
        for bad in [
            Attenuation {
                graphql_operations: vec!["Query".into()],
                ..Attenuation::default()
            },
            Attenuation {
                graphql_fields: vec!["view-er".into()],
                ..Attenuation::default()
            },
            Attenuation {
                mcp_tools: vec!["a b".into()],
                ..Attenuation::default()
            },
            Attenuation {
                mcp_tools: vec![String::new()],
                ..Attenuation::default()
            },
        ] {
            let e = format!("{:#}", bad.caveats(SystemTime::now()).expect_err("refused"));
            assert!(e.contains("--graphql") || e.contains("--mcp-tool"), "{e}");
        }
    }

    fn hosts(names: &[&str]) -> Vec<Host> {
        names
            .iter()
            .map(|h| Host::parse_canonical(h).expect("host"))
            .collect()
    }

    #[test]
    fn a_host_outside_the_wrapped_ones_is_warned_about() {
        let sealed = hosts(&["api.stripe.com", "files.stripe.com"]);
        let inside = [Caveat::HostIn(hosts(&["api.stripe.com"]))];
        assert!(host_warnings(&inside, &sealed).is_empty());
        let partly = [Caveat::HostIn(hosts(&["api.stripe.com", "evil.example"]))];
        assert_eq!(
            host_warnings(&partly, &sealed),
            [
                "host evil.example is outside the hosts the key was wrapped for (api.stripe.com, \
              files.stripe.com): the proxy never sends the key there, so requests to it are refused"
            ]
        );
        let outside = [Caveat::HostIs(hosts(&["evil.example"]).remove(0))];
        let w = host_warnings(&outside, &sealed);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[1],
            "the host caveat leaves none of the wrapped hosts: this token allows nothing"
        );
    }
}
