//! Command-line definitions and dispatch for `macaroon-proxy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use macaroon_home::KeyPairFiles;

/// The macaroon verifier proxy: checks a macaroon on every request, injects the sealed
/// API key, and forwards only to the host the key was sealed for.
#[derive(Parser, Debug)]
#[command(name = "macaroon-proxy", version, propagate_version = true)]
pub struct Cli {
    /// The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.
    ///
    /// Tokens are sealed to the public key: anyone with it can wrap an API key, and
    /// only this proxy can open what they wrap.
    ///
    /// Example:
    ///   macaroon-proxy keygen
    ///   macaroon-proxy keygen --home /etc/macaroon --force
    #[command(verbatim_doc_comment)]
    Keygen {
        /// Replace existing key files (tokens sealed to the old key stop working).
        #[arg(long)]
        force: bool,
    },

    /// Run the proxy: verify macaroons, inject keys, forward to sealed hosts.
    ///
    /// One listener serves origin-form requests (reverse proxy to the token's first
    /// sealed host: point an SDK's base URL at it), absolute-form requests (HTTP_PROXY)
    /// and CONNECT (HTTPS_PROXY, intercepted with certificates from the local CA).
    /// Creates the proxy key and the CA on first run. Connections are served by one worker
    /// thread per core (MACAROON_WORKERS=N to choose).
    ///
    /// Examples:
    ///   macaroon-proxy run
    ///   macaroon-proxy run --listen 0.0.0.0:8080 --admin 127.0.0.1:9090 --audit-log /var/log/macaroon.jsonl
    ///   macaroon-proxy run --passthrough pypi.org,files.pythonhosted.org
    #[command(verbatim_doc_comment)]
    Run(RunArgs),

    /// Print the local CA's path and the environment lines clients need to trust it.
    ///
    /// Example:
    ///   eval "$(macaroon-proxy ca)"
    #[command(verbatim_doc_comment)]
    Ca {
        /// The proxy URL to put in HTTPS_PROXY.
        #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
        proxy_url: String,
    },

    /// Revoke a token and every token narrowed from the same root (its family).
    ///
    /// Opens the sealed identifier with this proxy's key and appends the family id (kid)
    /// to $MACAROON_HOME/revoked, which running proxies re-read within a second.
    ///
    /// Examples:
    ///   macaroon-proxy revoke "$LEAKED_TOKEN"
    ///   macaroon-proxy revoke - < token.txt
    #[command(verbatim_doc_comment)]
    Revoke {
        /// The token (any token of the family), or '-' to read it from stdin.
        token: String,
    },

    /// Print shell completions.
    ///
    /// Example:
    ///   macaroon-proxy completions bash > ~/.local/share/bash-completion/completions/macaroon-proxy
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Flags of `run`.
#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// Where audit lines go: a file (appended, 0600) or '-' for stdout.
    #[arg(long, default_value = "-", value_name = "PATH|-")]
    audit_log: String,
    /// Address for /healthz and /metrics (off unless given).
    #[arg(long, value_name = "ADDR")]
    admin: Option<std::net::SocketAddr>,
    /// Extra trusted root certificates for upstreams, PEM (repeatable).
    #[arg(long, value_name = "PEM")]
    upstream_ca: Vec<PathBuf>,
    /// Send every connection for HOST to IP:PORT, still over TLS (repeatable, like curl's).
    #[arg(long, value_name = "HOST=IP:PORT")]
    resolve: Vec<String>,
    /// Hosts that requests without a token may reach untouched (comma-separated, repeatable).
    #[arg(long, value_name = "HOST,...", value_delimiter = ',')]
    passthrough: Vec<String>,
    /// Allow upstream addresses in private and loopback ranges.
    #[arg(long)]
    allow_private: bool,
    /// How long an upstream may take to send response headers (then 504).
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    upstream_timeout: std::time::Duration,
    /// Also take connections that iptables/nftables REDIRECT to --listen (Linux): TLS is
    /// intercepted by its SNI, plain HTTP uses its Host. See docs/unmodified-scripts.md.
    #[arg(long)]
    transparent: bool,
}

/// Parses arguments, runs the command, and maps the outcome to an exit code:
/// 0 ok, 2 bad usage or bad input (errors print once, with their context chain).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("macaroon-proxy: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "macaroon-proxy", &mut std::io::stdout());
        return Ok(());
    }
    let home = macaroon_home::locate(cli.home.as_deref())
        .context("no home directory found; pass --home DIR or set MACAROON_HOME")?;
    match cli.command {
        Command::Keygen { force } => {
            let g = crate::keygen::keygen(&home, force)?;
            eprintln!(
                "wrote {} (private, mode 0600) and {}; key id {}",
                g.private_path.display(),
                g.public_path.display(),
                g.keys.key_id()
            );
            println!("{}", g.keys.public().to_base64());
            Ok(())
        }
        Command::Completions { .. } => Ok(()),
        Command::Run(a) => {
            let mut resolve = std::collections::HashMap::new();
            for r in &a.resolve {
                let (h, addr) = crate::run::parse_resolve(r)?;
                resolve.insert(h, addr);
            }
            let passthrough = a
                .passthrough
                .iter()
                .filter(|h| !h.trim().is_empty())
                .map(|h| caveat::Host::normalize(h.trim()).with_context(|| format!("--passthrough {h:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let cfg = crate::run::RunConfig {
                listen: a.listen,
                admin: a.admin,
                audit_log: a.audit_log,
                upstream_ca: a.upstream_ca,
                resolve,
                passthrough,
                allow_private: a.allow_private,
                upstream_timeout: a.upstream_timeout,
                transparent: a.transparent,
            };
            crate::run::run(&home, cfg)
        }
        Command::Revoke { token } => {
            let text = if token == "-" {
                let mut buf = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
                    .context("could not read stdin")?;
                buf
            } else {
                token
            };
            let token = caveat::Token::decode(&text).context("not a valid token")?;
            let keys = caveat::ProxyKeyPair::load_all(&home)?;
            let payload = caveat::unseal(&token, &keys).map_err(|d| anyhow::anyhow!("{}", d.reason))?;
            let hosts: Vec<&str> = payload.hosts.iter().map(|h| h.as_str()).collect();
            if crate::revoke::Revocations::load(&home).is_revoked(&payload.kid) {
                eprintln!(
                    "Token family {} (hosts {}) is already revoked.",
                    payload.kid,
                    hosts.join(", ")
                );
                return Ok(());
            }
            crate::revoke::Revocations::add(
                &home,
                &payload.kid,
                &format!(
                    "revoked {} (hosts {})",
                    caveat::fmt_time(std::time::SystemTime::now()),
                    hosts.join(" ")
                ),
            )
            .context("could not write the revocation list")?;
            eprintln!(
                "Revoked token family {} (hosts {}): every token from that root is now denied.",
                payload.kid,
                hosts.join(", ")
            );
            Ok(())
        }
        Command::Ca { proxy_url } => {
            let ca = crate::ca::LocalCa::load_or_create(&home)?;
            let bundle = macaroon_home::write_trust_bundle(&home, ca.cert_path())?;
            eprintln!(
                "CA certificate: {} (with the system roots: {})",
                ca.cert_path().display(),
                bundle.display()
            );
            print!("{}", crate::ca::client_env(ca.cert_path(), &bundle, &proxy_url));
            Ok(())
        }
    }
}
