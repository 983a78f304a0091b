//! `macaroon attenuate`: add caveats offline and print the narrower token.

use std::time::SystemTime;

use anyhow::{bail, Context};
use caveat::{Caveat, Host, Method, PathGlob, RequestPath};

use crate::cli::{Attenuation, OutputFormat, ThirdPartyArgs};
use crate::input::read_token;
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
            && self.max_body.is_none()
            && self.caveats.is_empty()
    }

    /// Turns the flags into caveats, checking each one; relative times count from `now`.
    pub fn caveats(&self, now: SystemTime) -> anyhow::Result<Vec<Caveat>> {
        let mut out = Vec::new();
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
        if let Some(n) = self.max_body {
            out.push(Caveat::BodySize(n));
        }
        for c in &self.caveats {
            out.push(Caveat::parse(c).context("--caveat")?);
        }
        Ok(out)
    }
}

/// Runs `attenuate`.
pub fn run(
    token: Option<&str>,
    attenuation: &Attenuation,
    third_party: &ThirdPartyArgs,
    format: OutputFormat,
    store: &Store,
) -> anyhow::Result<()> {
    if attenuation.is_empty() && third_party.third_party.is_none() {
        bail!(
            "nothing to add: give at least one of --expires, --not-before, --method, --host, \
             --path, --path-glob, --query, --form, --json, --max-body, --caveat or --third-party"
        );
    }
    // Check every flag before reading the token, so a typo never consumes stdin.
    let caveats = attenuation.caveats(SystemTime::now())?;
    let input = read_token(token, store)?;
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
    println!("{}", narrowed.encode_as(format.into()));
    Ok(())
}
