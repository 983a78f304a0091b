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

// `Run` holds every run flag; the enum is built once per process, so its size is moot.
#[allow(clippy::large_enum_variant)]
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
    Run(crate::config::RunArgs),

    /// Print the local CA's path and the environment lines clients need to use the proxy.
    ///
    /// The lines (POSIX shell) set HTTPS_PROXY and HTTP_PROXY, NO_PROXY for loopback, the
    /// CA variables common runtimes read, and PYTHONPATH for a sitecustomize hook (written
    /// to $MACAROON_HOME/python) that makes Python SDKs pinning their own CA bundle
    /// (Stripe, certifi users) trust the proxy too.
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
    /// to $MACAROON_HOME/revoked, which running proxies re-read within a second. With
    /// --state it is also written to the shared store, which every replica run with the
    /// same --state checks four times a second. A stored NAME is the token `macaroon wrap`
    /// stored under it in the same home.
    ///
    /// Examples:
    ///   macaroon-proxy revoke "$LEAKED_TOKEN"
    ///   macaroon-proxy revoke stripe
    ///   macaroon-proxy revoke - < token.txt
    ///   macaroon-proxy revoke --state redis://10.0.0.5:6379/0 "$LEAKED_TOKEN"
    #[command(verbatim_doc_comment)]
    Revoke {
        /// The token (any token of the family), a NAME stored by `macaroon wrap` in this
        /// home, or '-' to read the token from stdin.
        #[arg(value_name = "TOKEN|NAME|-")]
        token: String,
        /// Also write the revocation to this shared store (redis://HOST:PORT/DB).
        #[arg(long, value_name = "URL")]
        state: Option<String>,
        /// The store's password, read from the first line of FILE (else from
        /// $MACAROON_STATE_PASSWORD): kept out of --state, so it never shows in `ps`.
        #[arg(long, value_name = "FILE", requires = "state")]
        state_password_file: Option<std::path::PathBuf>,
    },

    /// Edit the issuers this proxy trusts ($MACAROON_HOME/issuers).
    ///
    /// A proxy opens only tokens whose sealed payload a trusted issuer signed: the home's
    /// own issuer, the keys in $MACAROON_HOME/issuers, and `run --issuer`. Running proxies
    /// re-read the file within a second; removing a key stops every token it wrapped.
    ///
    /// Examples:
    ///   macaroon-proxy issuers add KEY --note "alice's laptop"
    ///   macaroon-proxy issuers list
    ///   macaroon-proxy issuers rm KEY
    #[command(verbatim_doc_comment)]
    Issuers {
        /// What to do.
        #[command(subcommand)]
        action: IssuersAction,
    },

    /// Operator tokens: the macaroons that open the admin API (docs/admin-api.md).
    ///
    /// Examples:
    ///   macaroon-proxy operator mint --name alice --role approve --expires 8h
    ///   macaroon-proxy operator whoami --admin-url https://proxy.internal:9443
    #[command(verbatim_doc_comment)]
    Operator {
        /// What to do.
        #[command(subcommand)]
        action: OperatorAction,
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

/// `macaroon-proxy operator` subcommands.
#[derive(Subcommand, Debug)]
enum OperatorAction {
    /// Mint an operator token from this home's operator.key (created, 0600, if absent).
    ///
    /// Roles: read (GET the API), approve (decide approvals; includes read), revoke
    /// (revocations; includes read), admin (everything, trusted issuers included). The
    /// holder can narrow it offline: macaroon attenuate OPTOKEN --caveat 'role in read'.
    ///
    /// Example:
    ///   (umask 077; macaroon-proxy operator mint --name alice --role approve > ~/.config/macaroon/operator.token)
    #[command(verbatim_doc_comment)]
    Mint {
        /// Who holds it ([a-z0-9._-], 1 to 64): named in every audit line of what they do.
        #[arg(long)]
        name: String,
        /// A role (repeatable): read, approve, revoke or admin. Default: read.
        #[arg(long = "role", value_name = "ROLE", value_parser = |s: &str| caveat::Role::parse(s))]
        roles: Vec<caveat::Role>,
        /// How long it lasts (12h, 30m, 7d; at most 366d). Default 12h; operator tokens always expire.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// Ask a running proxy who the operator token is for (GET /api/whoami).
    Whoami {
        /// Where the API is, and the token.
        #[command(flatten)]
        admin: crate::admin_client::AdminArgs,
        /// Print the JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// `macaroon-proxy issuers` subcommands.
#[derive(Subcommand, Debug)]
enum IssuersAction {
    /// Trust an issuer (its public key, from `macaroon issuer show`).
    Add {
        /// The issuer public key (base64).
        key: String,
        /// A note kept beside it (whose key it is).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Stop trusting an issuer: every token it wrapped is refused.
    Rm {
        /// The issuer public key (base64).
        key: String,
    },
    /// List the trusted issuers (the file's, and this home's own).
    List,
}

/// Parses arguments, runs the command, and maps the outcome to an exit code:
/// 0 ok, 2 bad usage or bad input (errors print once, with their context chain).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    diagnostics();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("macaroon-proxy: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `macaroon-proxy revoke TOKEN|-`: appends the token's family to the revocation list.
fn revoke(
    home: &std::path::Path,
    token: String,
    state: Option<&str>,
    password_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let text = if token == "-" {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf).context("could not read stdin")?;
        buf
    } else {
        token
    };
    let token = token_or_stored_name(home, &text)?;
    let keys = caveat::ProxyKeyPair::load_all(home)?;
    let mut payload = caveat::unseal(&token, &keys).map_err(|d| anyhow::anyhow!("{}", d.reason))?;
    // The list holds lower-case kids, one a line: the form `run` reads back.
    payload.kid.make_ascii_lowercase();
    let hosts: Vec<&str> = payload.hosts.iter().map(|h| h.as_str()).collect();
    if let Some(url) = state {
        let password = crate::state::store::password(password_file)?;
        shared_revoke(url, password.as_ref(), &payload.kid, &hosts)?;
    }
    if crate::revoke::Revocations::load(home)
        .context("could not read the revocation list")?
        .is_revoked(&payload.kid)
    {
        eprintln!(
            "Token family {} (hosts {}) is already revoked.",
            payload.kid,
            hosts.join(", ")
        );
        return Ok(());
    }
    crate::revoke::Revocations::add(
        home,
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

/// The token `text` stands for: a NAME stored by `macaroon wrap` in this home, else the
/// token itself.
fn token_or_stored_name(home: &std::path::Path, text: &str) -> anyhow::Result<caveat::Token> {
    let name = text.trim();
    if let Some(stored) = macaroon_home::tokens::stored_token(home, name)? {
        return caveat::Token::decode(&stored).with_context(|| {
            format!("the stored token {name:?} is corrupt; revoke it with a copy of the token instead")
        });
    }
    caveat::Token::decode(text).map_err(|e| {
        if macaroon_home::tokens::check_name(name).is_ok() {
            anyhow::anyhow!(
                "no token named {name:?} is stored in {} (and it is not a token: {e}); see the names \
                 with: macaroon list --home {}, or pass the token itself",
                home.display(),
                home.display()
            )
        } else {
            anyhow::Error::new(e).context("not a valid token")
        }
    })
}

/// Writes a revocation to the shared store; every replica on it refuses within a second.
fn shared_revoke(
    url: &str,
    password: Option<&caveat::Secret>,
    kid: &str,
    hosts: &[&str],
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let added = rt.block_on(crate::state::revocations::revoke(url, password, kid))?;
    let shown = crate::state::store::without_password(url);
    if added {
        eprintln!(
            "Revoked token family {kid} (hosts {}) in {shown}: every replica using it refuses the family within a second.",
            hosts.join(", ")
        );
    } else {
        eprintln!("Token family {kid} was already revoked in {shown}.");
    }
    Ok(())
}

fn issuers(home: &std::path::Path, action: IssuersAction) -> anyhow::Result<()> {
    use crate::issuers as trust;
    match action {
        IssuersAction::Add { key, note } => {
            let note = if note.is_empty() {
                format!("added {}", caveat::fmt_time(std::time::SystemTime::now()))
            } else {
                note
            };
            let k = trust::add(home, &key, &note)?;
            eprintln!("Trusted issuer {k}: running proxies open what it wraps within a second.");
        }
        IssuersAction::Rm { key } => match trust::remove(home, &key)? {
            0 => anyhow::bail!(
                "{key} is not in {}; see the trusted issuers with: macaroon-proxy issuers list",
                home.join(trust::ISSUERS_FILE).display()
            ),
            _ => eprintln!("Removed issuer {key}: every token it wrapped is now refused."),
        },
        IssuersAction::List => {
            if let Some(k) = trust::local(home) {
                println!(
                    "{k}  # this home's own issuer ({})",
                    home.join(trust::LOCAL_ISSUER_FILE).display()
                );
            }
            for (k, note) in trust::list(home)? {
                println!("{k}  # {note}");
            }
        }
    }
    Ok(())
}

fn operator(home: &std::path::Path, action: OperatorAction) -> anyhow::Result<()> {
    match action {
        OperatorAction::Mint { name, roles, expires } => {
            let token = crate::operators::mint(home, &name, &roles, expires.as_deref())?;
            eprintln!("Operator token for {name}: keep it like a password; it opens the admin API until it expires.");
            println!("{}", token.encode());
        }
        OperatorAction::Whoami { admin, json } => {
            let client = crate::admin_client::AdminClient::from_args(home, &admin)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("could not start the async runtime")?;
            let v = rt.block_on(client.get_json("/api/whoami"))?;
            if json {
                println!("{v}");
            } else {
                let roles: Vec<&str> = v["roles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str())
                    .collect();
                println!(
                    "operator {}; roles {}; expires {}",
                    v["operator"].as_str().unwrap_or("?"),
                    roles.join(", "),
                    v["expires"].as_str().unwrap_or("never")
                );
            }
        }
    }
    Ok(())
}

/// Diagnostics (handshake failures, reloads, worker trouble) go to stderr through
/// `tracing`, at the level `MACAROON_LOG` names (error, warn, info, debug, trace; default
/// info). The audit line is not a diagnostic: it keeps its own writer and format.
fn diagnostics() {
    let level = std::env::var("MACAROON_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "macaroon-proxy", &mut std::io::stdout());
        return Ok(());
    }
    let home = macaroon_home::locate(cli.home.as_deref())
        .context("no home directory found; pass --home DIR or set MACAROON_HOME")?;
    for warning in macaroon_home::writable_by_others(&home) {
        eprintln!("macaroon-proxy: {warning}");
    }
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
        Command::Run(a) => crate::run::run(&home, crate::config::Config::from_args(&a)?),
        Command::Revoke {
            token,
            state,
            state_password_file,
        } => revoke(&home, token, state.as_deref(), state_password_file.as_deref()),
        Command::Issuers { action } => issuers(&home, action),
        Command::Operator { action } => operator(&home, action),
        Command::Ca { proxy_url } => {
            let ca = crate::ca::LocalCa::load_or_create(&home)?;
            let bundle = macaroon_home::write_trust_bundle(&home, ca.cert_path())?;
            let python = crate::ca::write_python_hook(&home)?;
            eprintln!(
                "CA certificate: {} (with the system roots: {}); Python hook: {}",
                ca.cert_path().display(),
                bundle.display(),
                python.join("sitecustomize.py").display()
            );
            let files = crate::ca::ClientFiles {
                ca: ca.cert_path(),
                bundle: &bundle,
                python: &python,
            };
            print!("{}", crate::ca::client_env(&files, &proxy_url));
            Ok(())
        }
    }
}
