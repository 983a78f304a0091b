//! `macaroon inspect`: what a token allows, in plain words or JSON. One result type,
//! two renderings; never the signature (identifier + caveats + signature is the token).

use std::fmt;
use std::time::SystemTime;

use caveat::{fmt_time, Caveat, SealedId, Token};
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::input::read_token;
use crate::output::{cells, table};
use crate::store::Store;

/// The identifier, as far as it can be read without the proxy's private key.
#[derive(Serialize)]
pub struct IdentifierInfo {
    /// `mk1` for our sealed identifiers, `op1` for operator tokens, `opaque` for other
    /// implementations' ids.
    pub format: &'static str,
    /// The proxy key id a sealed identifier names.
    pub proxy_key_id: Option<String>,
}

/// One first-party caveat.
#[derive(Serialize)]
pub struct CaveatInfo {
    /// The caveat text as the token carries it.
    pub predicate: String,
    /// Its kind (`expires`, `method`, `path-prefix`...; `unknown` if not understood).
    pub kind: String,
    /// What it means, relative to now.
    pub explain: String,
}

/// The time window in which every time caveat holds.
#[derive(Serialize)]
pub struct Window {
    /// Latest `time >` bound, if any.
    pub not_before: Option<String>,
    /// Earliest `time <` bound, if any.
    pub expires: Option<String>,
    /// The window in words, relative to now.
    pub explain: String,
}

/// A third-party caveat and whether a discharge for it was given.
#[derive(Serialize)]
pub struct ThirdPartyInfo {
    /// Where the discharge comes from.
    pub location: String,
    /// The caveat id to ask it to discharge.
    pub id: String,
    /// True if a discharge with this id, bound to this token, was given with --discharge.
    /// (Its signature can only be checked by the proxy, which can open the chain.)
    pub discharged: bool,
    /// What it asks, in plain words (for an approval caveat: a person's approval, and for
    /// how long when this home can open it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<String>,
}

/// One first-party caveat as `inspect` shows it: what it means as of `now`, and whether an
/// earlier expiry or later not-before (`window`) overrides it.
fn caveat_info(
    text: &str,
    parsed: &Result<Caveat, caveat::CaveatError>,
    (not_before, expires): (Option<SystemTime>, Option<SystemTime>),
    now: SystemTime,
) -> CaveatInfo {
    match parsed {
        Ok(c) => {
            let mut explain = c.explain_at(now);
            if let (Caveat::TimeBefore(t), Some(e)) = (c, expires) {
                if *t > e {
                    explain.push_str("; an earlier expiry applies");
                }
            }
            if let (Caveat::TimeAfter(t), Some(nb)) = (c, not_before) {
                if *t < nb {
                    explain.push_str("; a later not-before applies");
                }
            }
            CaveatInfo {
                predicate: text.to_string(),
                kind: c.kind().to_string(),
                explain,
            }
        }
        Err(e) => CaveatInfo {
            predicate: text.to_string(),
            kind: "unknown".into(),
            explain: format!(
                "not understood, so the proxy denies every request ({})",
                e.message
            ),
        },
    }
}

/// The third-party caveats, an approval caveat named as such (its id is sealed bytes).
fn third_party(token: &Token, discharges: &[Token]) -> Vec<ThirdPartyInfo> {
    token
        .third_party_raw()
        .into_iter()
        .map(|(location, raw)| {
            let approval = location == caveat::APPROVAL_LOCATION;
            let key_id = approval.then(|| caveat::approval_key_id(&raw)).flatten();
            ThirdPartyInfo {
                discharged: discharges.iter().any(|d| d.identifier() == raw),
                id: match key_id {
                    Some(k) => format!("ap1, sealed to proxy key {k}"),
                    None => String::from_utf8_lossy(&raw).into_owned(),
                },
                explain: approval.then(|| {
                    "needs a person's approval at the proxy (once or for a window: sealed, so only \
                     the proxy can say which)"
                        .to_string()
                }),
                location,
            }
        })
        .collect()
}

/// Everything `inspect` shows.
#[derive(Serialize)]
pub struct Inspection {
    /// The advisory location (not signed).
    pub location: Option<String>,
    /// Identifier facts.
    pub identifier: IdentifierInfo,
    /// First-party caveats, in order.
    pub caveats: Vec<CaveatInfo>,
    /// Third-party caveats, in order.
    pub third_party: Vec<ThirdPartyInfo>,
    /// First 8 bytes of SHA-256 of the signature, hex.
    pub signature_fingerprint: String,
    /// The serialization it was read from (V1, V2, V2JSON).
    pub wire_format: String,
    /// The effective validity window.
    pub effective: Window,
    /// How the wrapped credential is injected (`bearer`, `oauth2-refresh`,
    /// `sigv4:us-east-1:s3`...), as recorded when a stored token was wrapped; absent for a
    /// token given as text (the rule is sealed: only the proxy can read it). Never a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inject: Option<String>,
    /// The family id (`kid`) sealed inside, as audit lines show it: known when this home
    /// wrapped the token's root (or holds the proxy key), else null.
    pub kid: Option<String>,
    /// The name the family's root is stored under in this home, if it is.
    pub family: Option<String>,
    /// The `label = NAME` caveats, in chain order: who holds the token.
    pub labels: Vec<String>,
    /// Where the token was read from (table only).
    #[serde(skip)]
    pub source: String,
}

impl Inspection {
    /// Inspects `token` as of `now`.
    pub fn new(token: &Token, source: &str, discharges: &[Token], now: SystemTime) -> Self {
        let id = token.identifier();
        let sealed = SealedId::parse(&id);
        let parsed: Vec<(String, Result<Caveat, caveat::CaveatError>)> = token
            .first_party()
            .into_iter()
            .map(|raw| {
                let text = String::from_utf8_lossy(&raw).into_owned();
                let parsed = Caveat::parse(&text);
                (text, parsed)
            })
            .collect();
        let expires = parsed
            .iter()
            .filter_map(|(_, c)| match c {
                Ok(Caveat::TimeBefore(t)) => Some(*t),
                _ => None,
            })
            .min();
        let not_before = parsed
            .iter()
            .filter_map(|(_, c)| match c {
                Ok(Caveat::TimeAfter(t)) => Some(*t),
                _ => None,
            })
            .max();
        let caveats = parsed
            .iter()
            .map(|(text, c)| caveat_info(text, c, (not_before, expires), now))
            .collect();
        Inspection {
            location: token.location(),
            identifier: IdentifierInfo {
                format: match &sealed {
                    Some(_) => "mk1",
                    None if id.starts_with(caveat::OPERATOR_ID_PREFIX) => "op1",
                    None => "opaque",
                },
                proxy_key_id: sealed.map(|s| s.key_id.to_string()),
            },
            caveats,
            third_party: third_party(token, discharges),
            signature_fingerprint: token.signature_fingerprint(),
            wire_format: token.wire_format().to_string(),
            effective: window(not_before, expires, now),
            inject: None,
            kid: None,
            family: None,
            labels: parsed
                .iter()
                .filter_map(|(_, c)| match c {
                    Ok(Caveat::Label(l)) => Some(l.clone()),
                    _ => None,
                })
                .collect(),
            source: source.to_string(),
        }
    }
}

fn window(not_before: Option<SystemTime>, expires: Option<SystemTime>, now: SystemTime) -> Window {
    let ago = |t: SystemTime| caveat::fmt_duration(now.duration_since(t).unwrap_or_default());
    let until = |t: SystemTime| caveat::fmt_duration(t.duration_since(now).unwrap_or_default());
    let explain = match (not_before, expires) {
        (Some(nb), Some(e)) if nb >= e => {
            "never valid: the not-before time is not before the expiry".to_string()
        }
        (_, Some(e)) if e <= now => format!("expired {} ago", ago(e)),
        (Some(nb), Some(e)) if nb >= now => format!("valid from in {} until in {}", until(nb), until(e)),
        (Some(nb), None) if nb >= now => format!("valid from in {}, no expiry", until(nb)),
        (_, Some(e)) => format!("valid now, expires in {}", until(e)),
        (_, None) => {
            "valid now, no expiry caveat (the wrapped key may still have a sealed expiry)".to_string()
        }
    };
    Window {
        not_before: not_before.map(fmt_time),
        expires: expires.map(fmt_time),
        explain,
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identifier = match &self.identifier.proxy_key_id {
            Some(k) => format!("sealed (mk1), for proxy key {k}"),
            None if self.identifier.format == "op1" => {
                "operator token (op1): opens a proxy's admin API, never an upstream".into()
            }
            None => {
                "opaque: not a macaroon-proxy sealed identifier (minted by another implementation)".into()
            }
        };
        let mut t = table(["FIELD", "VALUE"]);
        t.add_row(cells(vec!["Token".to_string(), self.source.clone()]));
        t.add_row(cells(vec!["Identifier".to_string(), identifier]));
        t.add_row(cells(vec!["Format".to_string(), self.wire_format.clone()]));
        t.add_row(cells(vec![
            "Location".to_string(),
            self.location.clone().unwrap_or_else(|| "none".into()),
        ]));
        t.add_row(cells(vec!["Valid".to_string(), self.effective.explain.clone()]));
        if let Some(kid) = &self.kid {
            let family = match &self.family {
                Some(name) => format!("{kid} (stored root: {name})"),
                None => kid.clone(),
            };
            t.add_row(cells(vec!["Family".to_string(), family]));
        }
        if !self.labels.is_empty() {
            t.add_row(cells(vec!["Held by".to_string(), self.labels.join(" > ")]));
        }
        if let Some(inject) = &self.inject {
            t.add_row(cells(vec![
                "Injects".to_string(),
                format!("{inject} (recorded when it was wrapped)"),
            ]));
        }
        t.add_row(cells(vec![
            "Signature".to_string(),
            format!(
                "fingerprint {} (not checked here: `macaroon verify` checks it with the proxy key)",
                self.signature_fingerprint
            ),
        ]));
        writeln!(f, "{t}")?;
        if self.caveats.is_empty() {
            writeln!(
                f,
                "No caveats: this token allows anything the wrapped key allows, on its sealed hosts."
            )?;
        } else {
            let mut c = table(["#", "CAVEAT", "MEANING"]);
            for (i, cav) in self.caveats.iter().enumerate() {
                c.add_row(cells(vec![
                    (i + 1).to_string(),
                    cav.predicate.clone(),
                    cav.explain.clone(),
                ]));
            }
            writeln!(f, "{c}")?;
        }
        if !self.third_party.is_empty() {
            let mut tp = table(["#", "THIRD-PARTY LOCATION", "CAVEAT ID", "MEANING", "DISCHARGE"]);
            for (i, c) in self.third_party.iter().enumerate() {
                let d = if c.discharged { "given" } else { "missing" };
                tp.add_row(cells(vec![
                    (i + 1).to_string(),
                    c.location.clone(),
                    c.id.clone(),
                    c.explain
                        .clone()
                        .unwrap_or_else(|| "needs a discharge from that location".into()),
                    d.to_string(),
                ]));
            }
            writeln!(f, "{tp}")?;
            if self
                .third_party
                .iter()
                .any(|c| c.location == caveat::APPROVAL_LOCATION)
            {
                writeln!(
                    f,
                    "The proxy holds a request that needs approval until a person approves it; the approval is a discharge the proxy keeps."
                )?;
            }
            if self
                .third_party
                .iter()
                .any(|c| c.location != caveat::APPROVAL_LOCATION)
            {
                writeln!(
                    f,
                    "Each other third-party caveat needs a discharge token from its location."
                )?;
            }
        }
        Ok(())
    }
}

/// Runs `inspect`.
pub fn run(args: InspectArgs, store: &Store) -> anyhow::Result<()> {
    let InspectArgs {
        token,
        json,
        discharges,
    } = args;
    let token = token.token.as_deref();
    let input = read_token(token, store)?;
    let discharges = discharges
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Token::decode(d).map_err(|e| anyhow::anyhow!("--discharge {} is not a valid token: {e}", i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut inspection = Inspection::new(&input.token, &input.source, &discharges, SystemTime::now());
    // A stored token's entry says how it was wrapped; the token itself cannot (sealed).
    if let Some(name) = token
        .map(str::trim)
        .filter(|_| input.source.starts_with("stored token"))
    {
        inspection.inject = store
            .list()?
            .into_iter()
            .find(|e| e.name == name)
            .map(|e| e.inject);
    }
    // The family: from this home's stored root, else by opening it with this home's
    // proxy key (when the proxy lives here).
    if let Some(e) = store.family_of(&input.token) {
        inspection.kid = e.kid;
        inspection.family = Some(e.name);
    }
    if inspection.kid.is_none() {
        if let Ok(keys) = <caveat::ProxyKeyPair as macaroon_home::KeyPairFiles>::load_all(store.home()) {
            if let Ok(p) = caveat::unseal(&input.token, &keys) {
                inspection.kid = Some(p.kid.to_ascii_lowercase());
            }
        }
    }
    // An approval caveat's scope is sealed to the proxy: this home can say it only when the
    // proxy's key is here.
    if inspection
        .third_party
        .iter()
        .any(|c| c.location == caveat::APPROVAL_LOCATION)
    {
        if let Ok(keys) = <caveat::ProxyKeyPair as macaroon_home::KeyPairFiles>::load_all(store.home()) {
            let raw = input.token.third_party_raw();
            for (info, (_, id)) in inspection.third_party.iter_mut().zip(raw) {
                if let Some(c) = caveat::ApprovalCaveat::open(&id, &keys) {
                    info.explain = Some(c.scope.explain());
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{inspection}");
    }
    Ok(())
}
