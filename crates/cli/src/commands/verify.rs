//! `macaroon verify`: the proxy's decision for one request, by the same core function.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context};
use caveat::{
    decide, BodyView, Decision, DenyKind, Host, Method, ProxyKeyPair, Request, RequestBody, RequestPath,
    Scheme, Token,
};
use macaroon_home::KeyPairFiles;

use crate::cli::VerifyArgs;
use crate::input::read_token;
use crate::output::{clean, clean_lines};
use crate::store::Store;
use crate::ExitStatus;

/// A denial: kind, error code (the proxy's), failing caveat, reason, HTTP status.
type Denied = (serde_json::Value, &'static str, Option<String>, String, u16);

/// What the proxy of this home checks beyond the token: that its issuer is trusted
/// (`issuers`, `issuer.pub`) and that its family is not revoked (`revoked`). The dry run
/// reads the same files, and denies when it cannot, rather than guess.
fn home_lists(home: &Path, token: &Token, keys: &[ProxyKeyPair], state: Option<&str>) -> Result<(), Denied> {
    let deny = |kind: &str, reason: String, status: u16| {
        let code = match kind {
            "untrusted-issuer" => "untrusted_issuer",
            "revoked" => "revoked",
            _ => "invalid_token",
        };
        (serde_json::json!(kind), code, None, reason, status)
    };
    let payload = caveat::unseal(token, keys).map_err(|d| deny("corrupt-identifier", d.to_string(), 401))?;
    let (trusted, problems) = macaroon_home::trusted_issuers(home).map_err(|e| {
        deny(
            "untrusted-issuer",
            format!("could not read this home's trusted issuers, so the dry run cannot tell: {e}"),
            401,
        )
    })?;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let issuer = payload.issuer();
    if !issuer.is_some_and(|i| trusted.contains(i)) {
        let key = issuer.map_or("(none)".to_string(), ToString::to_string);
        return Err(deny(
            "untrusted-issuer",
            format!(
                "this token was wrapped by issuer {key}, which this home's proxy does not trust; if it \
                 should, run: macaroon-proxy issuers add {key} --name NAME"
            ),
            401,
        ));
    }
    let revoked = macaroon_home::revoked(home).map_err(|e| {
        deny(
            "revoked",
            format!("could not read this home's revocation list, so the dry run cannot tell: {e}"),
            403,
        )
    })?;
    // The family, then every branch on the token's chain (root first, its own last).
    let kid = payload.kid.to_ascii_lowercase();
    let branches = caveat::chain_branch_ids(token, &payload.root);
    let mut ids = vec![kid.clone()];
    ids.extend(branches.iter().cloned());
    let in_store = match state {
        Some(url) => shared_revoked(url, &ids).map_err(|e| {
            deny(
                "revoked",
                format!("could not read the shared store's revocations, so the dry run cannot tell: {e}"),
                403,
            )
        })?,
        None => None,
    };
    let hit = ids.iter().find(|id| revoked.contains(*id)).cloned().or(in_store);
    match hit {
        Some(id) if id == kid => Err(deny(
            "revoked",
            format!("this token's family {kid} is revoked on this home's proxy"),
            403,
        )),
        Some(id) => Err(deny(
            "revoked",
            format!(
                "this token is in a revoked branch ({}): it or a token it was narrowed from was revoked \
                 on this home's proxy (undo with: macaroon-proxy revoke --undo {id})",
                &id[..16]
            ),
            403,
        )),
        None => Ok(()),
    }
}

/// Runs `verify`: exit 0 allow, 1 deny.
pub fn run(args: VerifyArgs, home: &Path, store: &Store) -> anyhow::Result<ExitStatus> {
    let method = Method::new(&args.method).with_context(|| format!("--method {:?}", args.method))?;
    let uri: http::Uri = args.url.parse().with_context(|| {
        format!(
            "--url {:?} is not a URL; use e.g. https://api.stripe.com/v1/charges",
            args.url
        )
    })?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        _ => bail!("--url {:?} must start with https:// (or http://)", args.url),
    };
    let host_text = uri.host().context("--url has no host")?;
    let host = Host::normalize(host_text).with_context(|| format!("--url host {host_text:?}"))?;
    let keys = match args.proxy_key_file.as_deref() {
        Some(p) => vec![ProxyKeyPair::load(p)?],
        None => ProxyKeyPair::load_all(home).context(
            "verify needs the proxy's private key: run it where the proxy's home is, or pass --proxy-key-file",
        )?,
    };
    let body = body(&args)?;
    let input = read_token(args.token.token.as_deref(), store)?;
    let discharges = args
        .discharges
        .iter()
        .enumerate()
        .map(|(i, d)| Token::decode(d).with_context(|| format!("--discharge {} is not a valid token", i + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let decision = match RequestPath::parse(uri.path()) {
        Ok(path) => {
            let req = Request {
                time: SystemTime::now(),
                method,
                scheme,
                port: uri.port_u16().unwrap_or(scheme.default_port()),
                host,
                path,
                query: uri.query().map(str::to_string),
                headers: Vec::new(),
                client: None,
                body: BodyView::Read(body),
            };
            match decide(&input.token, &discharges, &keys, &req) {
                Decision::Allow => home_lists(home, &input.token, &keys, args.state.as_deref()),
                Decision::Deny(d) => Err((
                    serde_json::to_value(d.kind).unwrap_or_default(),
                    d.kind.code(),
                    d.caveat.clone(),
                    d.to_string(),
                    match d.kind {
                        k if k.is_unauthenticated() => 401,
                        DenyKind::BodyTooLarge => 413,
                        _ => 403,
                    },
                )),
            }
        }
        Err(e) => Err((
            serde_json::json!("bad-path"),
            "bad_path",
            None,
            format!(
                "the path {:?} is refused before any caveat is checked: {e}",
                uri.path()
            ),
            400,
        )),
    };
    let line = format!("{} {}", args.method, args.url);
    let allowed = decision.is_ok();
    report(
        &line,
        args.json,
        decision,
        &limits(&input.token),
        &labels(&input.token),
    );
    Ok(if allowed {
        ExitStatus::Success
    } else {
        ExitStatus::Denied
    })
}

/// Prints the decision: a line for people (reasons and uncounted limits on stderr), or
/// JSON with the proxy's error object, so a script reads the same shape from both.
fn report(
    line: &str,
    json: bool,
    decision: Result<(), Denied>,
    limits: &[serde_json::Value],
    labels: &[String],
) {
    match (decision, json) {
        (Ok(()), true) => println!(
            "{}",
            serde_json::json!({"decision": "allow", "status": 200, "labels": labels, "not_counted": limits})
        ),
        (Ok(()), false) => {
            println!("allow: {}", clean(line));
            if !labels.is_empty() {
                eprintln!("held by: {}", clean(&labels.join(" > ")));
            }
            for l in limits {
                eprintln!(
                    "not counted here: {} ({}); the proxy counts it when the request is made",
                    clean(l["predicate"].as_str().unwrap_or_default()),
                    clean(l["explain"].as_str().unwrap_or_default())
                );
            }
        }
        (Err((kind, code, caveat, reason, status)), true) => println!(
            "{}",
            serde_json::json!({
                "decision": "deny", "kind": kind, "caveat": caveat, "reason": reason, "status": status,
                "labels": labels,
                "error": {"type": "macaroon_error", "code": code, "message": reason, "caveat": caveat},
            })
        ),
        (Err((_, _, _, reason, _)), false) => {
            println!("deny: {}", clean(line));
            eprintln!("denied: {}", clean_lines(&reason));
        }
    }
}

/// Which of `ids` (a family, branches) the proxies' shared store lists as revoked, if any
/// (one question, 2 s at most).
fn shared_revoked(url: &str, ids: &[String]) -> anyhow::Result<Option<String>> {
    let timeout = std::time::Duration::from_secs(2);
    use redis::IntoConnectionInfo;
    let bad = "--state is not a Redis URL; use redis://HOST:PORT/DB";
    let mut info = url.into_connection_info().map_err(|_| anyhow::anyhow!(bad))?;
    // The password may be kept out of the URL (and so out of `ps`), as the proxy allows.
    if let Ok(p) = std::env::var("MACAROON_STATE_PASSWORD") {
        if !p.is_empty() {
            info = info
                .clone()
                .set_redis_settings(info.redis_settings().clone().set_password(p));
        }
    }
    let client = redis::Client::open(info).map_err(|_| anyhow::anyhow!(bad))?;
    let mut con = client
        .get_connection_with_timeout(timeout)
        .context("cannot reach the --state store")?;
    con.set_read_timeout(Some(timeout))?;
    let hits: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg(macaroon_home::STATE_REVOKED_SET)
        .arg(ids)
        .query(&mut con)
        .context("the --state store did not answer")?;
    Ok(ids
        .iter()
        .zip(hits)
        .find(|(_, hit)| *hit)
        .map(|(id, _)| id.clone()))
}

/// The token's labels (`label = NAME`), in chain order: who holds it.
fn labels(token: &Token) -> Vec<String> {
    token
        .first_party()
        .iter()
        .filter_map(|p| match std::str::from_utf8(p).ok().map(caveat::Caveat::parse) {
            Some(Ok(caveat::Caveat::Label(l))) => Some(l),
            _ => None,
        })
        .collect()
}

/// The token's usage and rate caveats: a dry run shows them and never counts them.
fn limits(token: &Token) -> Vec<serde_json::Value> {
    let now = SystemTime::now();
    token
        .first_party()
        .iter()
        .filter_map(|raw| {
            std::str::from_utf8(raw)
                .ok()
                .and_then(|t| caveat::Caveat::parse(t).ok())
        })
        .filter(|c| c.is_counted())
        .map(|c| serde_json::json!({"predicate": c.to_string(), "explain": c.explain_at(now)}))
        .collect()
}

/// The body the dry run checks: --data or --data-file, else empty (a proxy reads an empty
/// body for a request without one). With a body and no --content-type, the type is
/// application/x-www-form-urlencoded, as curl sends with --data.
fn body(args: &VerifyArgs) -> anyhow::Result<RequestBody> {
    let bytes = match (args.data.as_deref(), args.data_file.as_deref()) {
        (Some(d), _) => Some(d.as_bytes().to_vec()),
        (None, Some(f)) => Some(std::fs::read(f).with_context(|| format!("--data-file {}", f.display()))?),
        (None, None) => None,
    };
    let content_type = match (args.content_type.as_deref(), &bytes) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(_)) => Some("application/x-www-form-urlencoded".to_string()),
        (None, None) => None,
    };
    Ok(RequestBody::new(
        content_type,
        None,
        bytes.unwrap_or_default().into(),
    ))
}
