//! The `run` settings, validated once (ripgrep's "low args → high args"): clap's
//! [`RunArgs`] become one [`Config`] that every part of the proxy
//! shares through an `Arc`, and nothing downstream parses a flag again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use caveat::{Host, IssuerPublic};

/// `--max-body` unless given: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// Everything `macaroon-proxy run` was told, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Proxy listener.
    pub listen: SocketAddr,
    /// Admin listener (`/healthz`, `/metrics`, the admin API).
    pub admin: Option<SocketAddr>,
    /// TLS for the admin listener (required on any address but loopback).
    pub admin_tls: Option<AdminTls>,
    /// `-` (stdout) or a file.
    pub audit_log: String,
    /// `--audit-format`: the proxy's JSON line or OCSF.
    pub audit_format: crate::audit_export::Format,
    /// `--otlp`: an OpenTelemetry collector's OTLP/HTTP base URL.
    pub otlp: Option<String>,
    /// Extra upstream roots (PEM files).
    pub upstream_ca: Vec<PathBuf>,
    /// `--resolve` overrides: host → address.
    pub resolve: HashMap<String, SocketAddr>,
    /// Hosts reachable without a token.
    pub passthrough: Vec<Host>,
    /// Allow private upstream addresses.
    pub allow_private: bool,
    /// How long an upstream may take to send response headers (then 504).
    pub upstream_timeout: Duration,
    /// Also take connections redirected by iptables/nftables (Linux).
    pub transparent: bool,
    /// Connection threads (one single-threaded runtime each).
    pub workers: usize,
    /// Largest body read for a token with body caveats (413 beyond).
    pub max_body: usize,
    /// How long a body that is read whole may take to arrive (408 beyond).
    pub body_timeout: Duration,
    /// How long a request needing approval is held.
    pub approval_wait: Duration,
    /// How long an undecided approval stays open.
    pub approval_ttl: Duration,
    /// Where new approvals are announced.
    pub approval_webhooks: Vec<String>,
    /// The webhooks' signing secret file.
    pub approval_webhook_secret_file: Option<PathBuf>,
    /// Issuers trusted besides the home's `issuers` file and local issuer.
    pub issuers: Vec<IssuerPublic>,
    /// `--allow-host`: the only hosts a token may be sealed for (empty: any).
    pub allow_hosts: Vec<HostPattern>,
    /// `--state`: the shared store's URL (counts, revocations); `None` keeps them here.
    pub state: Option<String>,
    /// The store's password (`--state-password-file`, `$MACAROON_STATE_PASSWORD`), kept
    /// out of the URL so it never shows in `ps`.
    pub state_password: Option<caveat::Secret>,
}

/// Where the admin listener's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminTls {
    /// `--admin-cert` and `--admin-key` (PEM files).
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// Its private key.
        key: PathBuf,
    },
    /// `--admin-name`: a leaf for this name from the proxy's own CA.
    Name(String),
}

/// The admin listener's TLS from the flags; refuses plain HTTP on any address but
/// loopback, since operator tokens (and the console's cookies) cross it.
fn admin_tls(a: &RunArgs) -> anyhow::Result<Option<AdminTls>> {
    let tls = match (&a.admin_cert, &a.admin_key, &a.admin_name) {
        (Some(cert), Some(key), None) => Some(AdminTls::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None, Some(name)) => Some(AdminTls::Name(
            Host::normalize(name)
                .with_context(|| format!("--admin-name {name:?}: expected a host name or IP address"))?
                .to_string(),
        )),
        (None, None, None) => None,
        _ => anyhow::bail!("give --admin-cert with --admin-key, or --admin-name, not both"),
    };
    match a.admin {
        Some(addr) if tls.is_none() && !addr.ip().is_loopback() => anyhow::bail!(
            "--admin {addr} is not a loopback address, and operator tokens must not cross a network in \
             cleartext: add --admin-name NAME (a certificate from this proxy's CA, for the name clients use) \
             or --admin-cert CERT.pem --admin-key KEY.pem, or listen on 127.0.0.1"
        ),
        None if tls.is_some() => {
            anyhow::bail!("--admin-cert, --admin-key and --admin-name need --admin ADDR")
        }
        _ => Ok(tls),
    }
}

/// An `--allow-host` pattern: an exact host, or `*.` and a suffix (which matches the
/// hosts below it, not the suffix itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host.
    Exact(Host),
    /// Any host ending in `.SUFFIX`.
    Below(String),
}

impl HostPattern {
    /// Parses `api.stripe.com` or `*.googleapis.com`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let bad = || {
            format!("--allow-host {text:?}: expected a host (api.stripe.com) or *.SUFFIX (*.googleapis.com)")
        };
        match text.strip_prefix("*.") {
            Some(suffix) => {
                let h = Host::normalize(suffix).with_context(bad)?;
                if !h.as_str().contains('.') || h.as_str().parse::<std::net::IpAddr>().is_ok() {
                    anyhow::bail!("{}: a wildcard needs a domain of at least two labels", bad());
                }
                Ok(HostPattern::Below(format!(".{h}")))
            }
            None => Ok(HostPattern::Exact(Host::normalize(text).with_context(bad)?)),
        }
    }

    /// True if `host` matches.
    pub fn matches(&self, host: &Host) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Below(suffix) => host.as_str().ends_with(suffix.as_str()),
        }
    }
}

impl Config {
    /// Validates the flags of `run` (and `MACAROON_WORKERS`).
    pub fn from_args(a: &RunArgs) -> anyhow::Result<Self> {
        let mut resolve = HashMap::new();
        for r in &a.resolve {
            let (h, addr) = parse_resolve(r)?;
            check_resolve_target(r, addr, a.listen, a.admin)?;
            resolve.insert(h, addr);
        }
        let passthrough = a
            .passthrough
            .iter()
            .filter(|h| !h.trim().is_empty())
            .map(|h| Host::normalize(h.trim()).with_context(|| format!("--passthrough {h:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Config {
            listen: a.listen,
            admin: a.admin,
            admin_tls: admin_tls(a)?,
            audit_log: a.audit_log.clone(),
            audit_format: a.audit_format,
            otlp: a.otlp.clone(),
            upstream_ca: a.upstream_ca.clone(),
            resolve,
            passthrough,
            allow_private: a.allow_private,
            upstream_timeout: a.upstream_timeout,
            transparent: a.transparent,
            workers: worker_count(std::env::var("MACAROON_WORKERS").ok().as_deref())?,
            max_body: usize::try_from(a.max_body).context("--max-body is too large for this machine")?,
            body_timeout: a.body_timeout,
            approval_wait: a.approval_wait,
            approval_ttl: a.approval_ttl,
            approval_webhooks: a.approval_webhook.clone(),
            approval_webhook_secret_file: a.approval_webhook_secret_file.clone(),
            issuers: a
                .issuer
                .iter()
                .map(|k| IssuerPublic::from_base64(k, "--issuer").map_err(anyhow::Error::from))
                .collect::<anyhow::Result<_>>()?,
            allow_hosts: a
                .allow_host
                .iter()
                .filter(|h| !h.trim().is_empty())
                .map(|h| HostPattern::parse(h.trim()))
                .collect::<anyhow::Result<_>>()?,
            state: a.state.clone(),
            state_password: crate::state::store::password(a.state_password_file.as_deref())?,
        })
    }

    /// True if a token may be sealed for `host` (always, without `--allow-host`).
    pub fn host_allowed(&self, host: &Host) -> bool {
        self.allow_hosts.is_empty() || self.allow_hosts.iter().any(|p| p.matches(host))
    }

    /// A configuration for tests and embedding: listen anywhere on loopback, no extras.
    pub fn local() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: None,
            admin_tls: None,
            audit_log: "-".into(),
            audit_format: crate::audit_export::Format::Json,
            otlp: None,
            upstream_ca: Vec::new(),
            resolve: HashMap::new(),
            passthrough: Vec::new(),
            allow_private: false,
            upstream_timeout: Duration::from_secs(120),
            transparent: false,
            workers: 1,
            max_body: DEFAULT_MAX_BODY,
            body_timeout: Duration::from_secs(30),
            approval_wait: crate::approvals::DEFAULT_WAIT,
            approval_ttl: crate::approvals::DEFAULT_TTL,
            approval_webhooks: Vec::new(),
            approval_webhook_secret_file: None,
            issuers: Vec::new(),
            allow_hosts: Vec::new(),
            state: None,
            state_password: None,
        }
    }
}

/// Parses a listening address: `IP:PORT`, or `NAME:PORT` (such as `localhost:8081`)
/// resolved to its first address, loopback first.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| {
            format!("{text:?} is not HOST:PORT or IP:PORT ({e}); e.g. 127.0.0.1:8080 or localhost:8080")
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// Parses `HOST=IP:PORT`.
pub fn parse_resolve(text: &str) -> anyhow::Result<(String, SocketAddr)> {
    let (host, addr) = text.split_once('=').with_context(|| {
        format!("--resolve {text:?}: expected HOST=IP:PORT, e.g. api.example.com=127.0.0.1:8443")
    })?;
    let host = Host::normalize(host).with_context(|| format!("--resolve {text:?}"))?;
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("--resolve {text:?}: {addr:?} is not IP:PORT"))?;
    Ok((host.to_string(), addr))
}

/// Refuses at start-up what would fail on every request: a link-local or metadata
/// address (never reachable, whatever the flags), or one of the proxy's own listeners
/// (the proxy never connects to itself).
fn check_resolve_target(
    text: &str,
    addr: SocketAddr,
    listen: SocketAddr,
    admin: Option<SocketAddr>,
) -> anyhow::Result<()> {
    if crate::upstream::policy::never_connected(addr.ip()) {
        anyhow::bail!(
            "--resolve {text:?}: {} is a link-local (cloud metadata) address, which the proxy never \
             connects to; point HOST at the upstream's real address",
            addr.ip()
        );
    }
    let is_listener = |l: SocketAddr| {
        l.port() == addr.port()
            && (l.ip() == addr.ip()
                || (l.ip().is_unspecified() && (addr.ip().is_loopback() || addr.ip().is_unspecified())))
    };
    if is_listener(listen) || admin.is_some_and(is_listener) {
        anyhow::bail!(
            "--resolve {text:?}: {addr} is this proxy's own listener, and the proxy never connects to \
             itself; point HOST at the upstream's address"
        );
    }
    Ok(())
}

/// Connection threads: `MACAROON_WORKERS` (1..=256) or one per core.
fn worker_count(var: Option<&str>) -> anyhow::Result<usize> {
    match var {
        None | Some("") => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .with_context(|| format!("MACAROON_WORKERS={v:?}: expected a number of threads from 1 to 256")),
    }
}

/// Flags of `run`, as clap parsed them; [`Config`] validates them.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Read these settings from a TOML file whose keys are the long flag names
    /// (listen = "127.0.0.1:8080", allow-host = ["api.stripe.com"]); flags given here win.
    /// SIGHUP re-reads it (see docs/deploy.md); check one with `macaroon-proxy check-config`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (an IP or a name such as localhost, with a port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR", value_parser = parse_addr)]
    pub listen: std::net::SocketAddr,
    /// Where audit lines go: a file (appended, 0600) or '-' for stdout.
    #[arg(long, default_value = "-", value_name = "PATH|-")]
    pub audit_log: String,
    /// How audit lines are written: json (the proxy's own line) or ocsf (OCSF 1.3 events,
    /// HTTP Activity for requests). See docs/audit.md.
    #[arg(long, value_enum, default_value_t = crate::audit_export::Format::Json, value_name = "FORMAT")]
    pub audit_format: crate::audit_export::Format,
    /// Also export every audit event to an OpenTelemetry collector as an OTLP log record:
    /// the collector's OTLP/HTTP base URL (http://HOST:4318, or https://; records go to
    /// URL/v1/logs).
    /// A collector that is down never slows a request: records are dropped and counted.
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
    /// Address for /healthz, /metrics and the admin API (off unless given). Any address
    /// but loopback needs TLS: --admin-name or --admin-cert/--admin-key.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub admin: Option<std::net::SocketAddr>,
    /// Serve the admin listener over TLS with this certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires = "admin_key")]
    pub admin_cert: Option<PathBuf>,
    /// The private key (PEM) of --admin-cert.
    #[arg(long, value_name = "PEM", requires = "admin_cert")]
    pub admin_key: Option<PathBuf>,
    /// Serve the admin listener over TLS with a certificate for NAME from this proxy's CA
    /// (clients trust ca.pem).
    #[arg(long, value_name = "NAME", conflicts_with = "admin_cert")]
    pub admin_name: Option<String>,
    /// Extra trusted root certificates for upstreams, PEM (repeatable).
    #[arg(long, value_name = "PEM")]
    pub upstream_ca: Vec<PathBuf>,
    /// Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl's).
    #[arg(long, value_name = "HOST=IP:PORT")]
    pub resolve: Vec<String>,
    /// Hosts that requests without a token may reach untouched (comma-separated, repeatable).
    #[arg(long, value_name = "HOST,...", value_delimiter = ',')]
    pub passthrough: Vec<String>,
    /// Allow upstream addresses in private and loopback ranges.
    #[arg(long)]
    pub allow_private: bool,
    /// How long an upstream may take to send response headers (then 504).
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub upstream_timeout: std::time::Duration,
    /// Largest request body, in bytes, read for a token with body caveats (form, json,
    /// body size, mcp, graphql): over it, 413 and nothing is sent. Other requests stream, unbounded.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_body: u64,
    /// How long a body the proxy reads whole (to check it) may take to arrive; a client
    /// that stops sending gets 408 and nothing is sent upstream.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub body_timeout: std::time::Duration,
    /// How long a request that needs a person's approval is held while they decide; then
    /// 403 approval_pending (the approval stays open: a retry once approved goes through).
    /// Under boto3's 60 s read timeout and Stripe's 80 s by default.
    #[arg(long, default_value = "50s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub approval_wait: std::time::Duration,
    /// How long an undecided approval stays open.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub approval_ttl: std::time::Duration,
    /// POST a JSON notice of each new approval to this URL (repeatable): Slack and
    /// Mattermost incoming webhooks read its `text`. Signed with
    /// --approval-webhook-secret-file; retried, never blocking a request.
    #[arg(long, value_name = "URL")]
    pub approval_webhook: Vec<String>,
    /// The shared secret the webhook notices are signed with (first line of FILE, which
    /// must be 0600): `Macaroon-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "t.body"))`.
    #[arg(long, value_name = "FILE")]
    pub approval_webhook_secret_file: Option<std::path::PathBuf>,
    /// Trust this issuer's public key (base64; repeatable) besides $MACAROON_HOME/issuers
    /// and the home's own issuer.
    #[arg(long, value_name = "PUBKEY")]
    pub issuer: Vec<String>,
    /// Only open tokens whose sealed hosts match: a host or *.SUFFIX (repeatable,
    /// comma-separated). Tokens for other hosts get 403 host_not_allowed.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub allow_host: Vec<String>,
    /// Also take connections that iptables/nftables REDIRECT to --listen (Linux): TLS is
    /// intercepted by its SNI, plain HTTP uses its Host. See docs/unmodified-scripts.md.
    #[arg(long)]
    pub transparent: bool,
    /// Keep usage and rate counts and revocations in Redis or Valkey, shared by every
    /// replica given the same URL: redis://HOST:PORT/DB (default: in this process).
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// The --state store's password, read from the first line of FILE (else from
    /// $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`.
    #[arg(long, value_name = "FILE", requires = "state")]
    pub state_password_file: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn resolve_to_a_metadata_address_is_refused_at_start_up() {
        let e = check_resolve_target(
            "x=169.254.169.254:443",
            addr("169.254.169.254:443"),
            addr("127.0.0.1:8080"),
            None,
        )
        .expect_err("link-local");
        assert!(e.to_string().contains("link-local"), "{e}");
        assert!(check_resolve_target(
            "x=[fe80::1]:443",
            addr("[fe80::1]:443"),
            addr("127.0.0.1:8080"),
            None
        )
        .is_err());
        for embedded in ["[64:ff9b::a9fe:a9fe]:443", "[fd00:ec2::254]:80"] {
            assert!(
                check_resolve_target("x", addr(embedded), addr("127.0.0.1:8080"), None).is_err(),
                "{embedded}"
            );
        }
    }

    #[test]
    fn resolve_to_the_proxy_itself_is_refused_at_start_up() {
        let listen = addr("0.0.0.0:8080");
        let e =
            check_resolve_target("x=127.0.0.1:8080", addr("127.0.0.1:8080"), listen, None).expect_err("own");
        assert!(e.to_string().contains("own listener"), "{e}");
        let admin = Some(addr("127.0.0.1:9090"));
        assert!(check_resolve_target("x", addr("127.0.0.1:9090"), addr("127.0.0.1:8080"), admin).is_err());
        assert!(check_resolve_target("x", addr("127.0.0.1:8443"), listen, admin).is_ok());
    }

    #[test]
    fn allow_host_patterns_match_exactly_or_below_a_suffix() {
        let h = |s: &str| Host::normalize(s).expect("host");
        let exact = HostPattern::parse("API.Stripe.com").expect("exact");
        assert!(exact.matches(&h("api.stripe.com")));
        assert!(!exact.matches(&h("evil-api.stripe.com")));
        let below = HostPattern::parse("*.googleapis.com").expect("wildcard");
        assert!(below.matches(&h("gmail.googleapis.com")));
        assert!(!below.matches(&h("googleapis.com")));
        assert!(!below.matches(&h("evilgoogleapis.com")));
        assert!(HostPattern::parse("*.com").is_err());
        assert!(HostPattern::parse("*").is_err());
        assert!(HostPattern::parse("a b").is_err());
    }

    #[test]
    fn listen_takes_a_name_as_well_as_an_address() {
        assert_eq!(parse_addr("127.0.0.1:8081").expect("ip"), addr("127.0.0.1:8081"));
        assert!(parse_addr("localhost:8081").expect("name").ip().is_loopback());
        assert!(parse_addr("localhost").is_err());
    }

    #[test]
    fn workers_must_be_a_sensible_number() {
        assert_eq!(worker_count(Some("3")).expect("3"), 3);
        assert!(worker_count(Some("0")).is_err());
        assert!(worker_count(Some("many")).is_err());
        assert!(worker_count(None).expect("default") >= 1);
    }
}
