//! Command-line definitions and dispatch for `macaroon-proxy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{FromArgMatches, Parser, Subcommand};

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
    /// Show this home's proxy key, as wrap --proxy-key takes it.
    ///
    /// A teammate on another machine wraps keys for this proxy with it (and this proxy
    /// must trust their issuer key: macaroon-proxy issuers add KEY --name NAME).
    ///
    /// Example:
    ///   macaroon-proxy key show
    ///   macaroon wrap stripe --host api.stripe.com --proxy-key "$(macaroon-proxy key show)"
    #[command(verbatim_doc_comment)]
    Key {
        /// What to do.
        #[command(subcommand)]
        action: KeyAction,
    },

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
        /// Keep the home's proxy key if it has one (print its public key and succeed):
        /// for a container's or a service's first start.
        #[arg(long, conflicts_with = "force")]
        if_missing: bool,
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

    /// Check a `run --config` file: exit 0 and a summary of what it sets, or 2 naming the
    /// bad key and its line.
    ///
    /// The file's keys are the long flag names of `run`. Its values get the checks `run`
    /// makes (addresses, --resolve spellings, host patterns), but nothing is bound.
    ///
    /// Example:
    ///   macaroon-proxy check-config /etc/macaroon/proxy.toml
    #[command(verbatim_doc_comment)]
    CheckConfig {
        /// The TOML file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },

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

    /// Revoke a token and every token narrowed from it (its branch), or its whole family.
    ///
    /// By default only this token's branch: the token and every token narrowed from it,
    /// while its siblings and its parent keep working (one leaked agent token does not stop
    /// every agent). --family revokes every token from the same root. The revocation (a
    /// branch id, 64 hex digits, or a family id, 32) is appended to $MACAROON_HOME/revoked,
    /// which running proxies re-read within a second; with --state it is also written to
    /// the shared store, which every replica checks four times a second. --undo lifts it.
    /// A stored NAME is the root token `macaroon wrap` stored under it in the same home
    /// (its branch is the whole family). An id from an audit line (kid) or a revoked list
    /// may be given instead of a token.
    ///
    /// Examples:
    ///   macaroon-proxy revoke "$LEAKED_AGENT_TOKEN"
    ///   macaroon-proxy revoke --family "$LEAKED_AGENT_TOKEN"
    ///   macaroon-proxy revoke --undo "$LEAKED_AGENT_TOKEN"
    ///   macaroon-proxy revoke 0123456789abcdef0123456789abcdef      # a kid: the family
    ///   macaroon-proxy revoke - < token.txt
    ///   macaroon-proxy revoke --state redis://10.0.0.5:6379/0 "$LEAKED_TOKEN"
    #[command(verbatim_doc_comment)]
    Revoke {
        /// The token, a NAME stored by `macaroon wrap` in this home, '-' to read the
        /// token from stdin, or an id (a kid, 32 hex digits; a branch id, 64).
        #[arg(value_name = "TOKEN|NAME|ID|-")]
        token: String,
        /// Revoke every token from the same root, not only this token's branch.
        #[arg(long)]
        family: bool,
        /// Lift the revocation instead (the branch's, or with --family the family's).
        #[arg(long)]
        undo: bool,
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
    ///   macaroon-proxy issuers add KEY --name alice
    ///   macaroon-proxy issuers list
    ///   macaroon-proxy issuers rm KEY
    #[command(verbatim_doc_comment)]
    Issuers {
        /// What to do.
        #[command(subcommand)]
        action: IssuersAction,
    },

    /// Approve or deny requests a running proxy holds for a person (docs/admin-api.md).
    ///
    /// A token narrowed with `macaroon attenuate --approval` makes the proxy hold each
    /// request until a person decides here, in the console, or through a webhook's link.
    /// These commands call the proxy's admin API with an operator token (--admin-url or
    /// MACAROON_ADMIN_URL; --operator-token, MACAROON_OPERATOR_TOKEN or
    /// $MACAROON_HOME/operator.token).
    ///
    /// Examples:
    ///   macaroon-proxy approvals list --watch
    ///   macaroon-proxy approvals show 7kq2mxva
    ///   macaroon-proxy approvals approve 7kq2mxva
    ///   macaroon-proxy approvals approve 7kq2mxva --for 1h --path /v1/refunds
    ///   macaroon-proxy approvals deny 7kq2mxva --reason "not during the freeze"
    #[command(verbatim_doc_comment)]
    Approvals {
        /// What to do.
        #[command(subcommand)]
        action: crate::approvals_cli::ApprovalsAction,
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

/// `macaroon-proxy key` subcommands.
#[derive(Subcommand, Debug)]
enum KeyAction {
    /// Print the public key that tokens for this proxy are sealed to (stdout), with its
    /// key id and how a teammate uses it (stderr).
    Show,
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
        /// Whose key it is (a teammate, a machine): the name every audit line of the
        /// tokens it wraps carries as "issuer". --note is an alias.
        #[arg(long, alias = "note", default_value = "", value_name = "NAME")]
        name: String,
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
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A reader that stops early (`macaroon-proxy issuers list | head -1`) ends a command
    // quietly, by SIGPIPE, as it ends `cat`. Not `run`: it writes to sockets and an audit
    // pipe, and a closed one must never end the proxy.
    #[cfg(target_os = "linux")]
    if !matches!(cli.command, Command::Run(_)) {
        use nix::sys::signal::{signal, SigHandler, Signal};
        // SAFETY: restoring the default disposition installs no handler; no other thread
        // exists yet.
        #[allow(unsafe_code)]
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }
    diagnostics();
    match run(cli, matches.subcommand_matches("run")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("macaroon-proxy: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `macaroon-proxy key show`: the public key of the newest proxy key of the home.
fn key_show(home: &std::path::Path) -> anyhow::Result<()> {
    use macaroon_home::KeyPairFiles;
    let path = home.join(macaroon_home::PRIVATE_KEY_FILE);
    if !path.exists() {
        anyhow::bail!(
            "{} has no proxy key ({} is missing); create one with: macaroon-proxy keygen --home {}",
            home.display(),
            path.display(),
            home.display()
        );
    }
    let keys = caveat::ProxyKeyPair::load(&path)?;
    let others = caveat::ProxyKeyPair::load_all(home).map(|k| k.len()).unwrap_or(1);
    eprintln!(
        "Proxy key id {} ({}). A teammate wraps keys for this proxy with:\n  macaroon wrap NAME --host HOST --proxy-key {}\n\
         and this proxy opens them once it trusts their issuer key (macaroon issuer show, on their machine):\n  \
         macaroon-proxy issuers add THEIR_KEY --name THEIR_NAME{}",
        keys.key_id(),
        path.display(),
        keys.public().to_base64(),
        if others > 1 {
            format!("\n({} older keys in this home still open the tokens sealed to them.)", others - 1)
        } else {
            String::new()
        }
    );
    println!("{}", keys.public().to_base64());
    Ok(())
}

/// Says so on stderr when `home` has no proxy key (a mistyped `MACAROON_HOME`, most
/// likely) and a command just made something there: what that means is `consequence`.
pub(crate) fn note_if_keyless(home: &std::path::Path, consequence: &str) {
    if matches!(macaroon_home::has_proxy_key(home), Ok(false)) {
        eprintln!(
            "macaroon-proxy: note: {} has no proxy key, so no proxy runs with it yet; {consequence}. If \
             yours runs with another home, name it (--home DIR or MACAROON_HOME).",
            home.display()
        );
    }
}

/// `revoke --family` and `--undo`.
struct Grain {
    family: bool,
    undo: bool,
}

/// `macaroon-proxy revoke TOKEN|NAME|ID|-`: appends the token's branch (or family) to the
/// revocation list, or with --undo removes it.
fn revoke(
    home: &std::path::Path,
    token: &str,
    grain: Grain,
    state: Option<&str>,
    password_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    // A mistyped or unset MACAROON_HOME must not report a revocation no proxy will read.
    if state.is_none()
        && !macaroon_home::has_proxy_key(home)
            .with_context(|| format!("could not read {}", home.display()))?
    {
        anyhow::bail!(
            "{} has no proxy key, so no proxy runs with this home and a revocation written here would \
             reach none. Name the running proxy's home (--home DIR or MACAROON_HOME), or write to the \
             store its replicas share (--state redis://HOST:PORT/DB)",
            home.display()
        );
    }
    let text = if token == "-" {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf).context("could not read stdin")?;
        buf
    } else {
        token.to_string()
    };
    let crate::revoke::Target { id, what } = crate::revoke::target(home, &text, grain.family)?;
    if let Some(url) = state {
        let password = crate::state::store::password(password_file)?;
        shared_revoke(url, password.as_ref(), &id, &what, grain.undo)?;
    }
    let file = home.join(crate::revoke::REVOKED_FILE);
    if grain.undo {
        let removed = crate::revoke::Revocations::remove(home, &id)
            .with_context(|| format!("could not rewrite {}", file.display()))?;
        if removed == 0 {
            if state.is_none() {
                anyhow::bail!(
                    "{what} is not revoked in {}; see what is with: macaroon-proxy revoke --help, or the file itself{}",
                    file.display(),
                    if grain.family { "" } else { " (a family is undone with --undo --family)" }
                );
            }
        } else {
            eprintln!("Lifted the revocation of {what}: running proxies accept it again within a second.");
        }
        return Ok(());
    }
    if crate::revoke::Revocations::load(home)
        .context("could not read the revocation list")?
        .lists(&id)
    {
        eprintln!("{what} is already revoked.");
        return Ok(());
    }
    crate::revoke::Revocations::add(
        home,
        &id,
        &format!(
            "revoked {} {what}",
            caveat::fmt_time(std::time::SystemTime::now())
        ),
    )
    .context("could not write the revocation list")?;
    eprintln!(
        "Revoked {what}: running proxies refuse it within a second. Undo with: macaroon-proxy revoke --undo{} {id}",
        if id.len() == 32 { " --family" } else { "" }
    );
    Ok(())
}

/// Writes a revocation to the shared store (or lifts it); every replica on it follows
/// within a second.
fn shared_revoke(
    url: &str,
    password: Option<&caveat::Secret>,
    id: &str,
    what: &str,
    undo: bool,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let changed = rt.block_on(crate::state::revocations::revoke(url, password, id, undo))?;
    let shown = crate::state::store::without_password(url);
    match (changed, undo) {
        (true, false) => {
            eprintln!("Revoked {what} in {shown}: every replica using it refuses it within a second.")
        }
        (false, false) => eprintln!("{what} was already revoked in {shown}."),
        (true, true) => eprintln!("Lifted the revocation of {what} in {shown}."),
        (false, true) => eprintln!("{what} was not revoked in {shown}."),
    }
    Ok(())
}

fn issuers(home: &std::path::Path, action: IssuersAction) -> anyhow::Result<()> {
    use crate::issuers as trust;
    match action {
        IssuersAction::Add { key, name } => {
            let name = name.trim();
            if name.contains(['\n', '\r', '#']) || name.chars().any(char::is_control) {
                anyhow::bail!(
                    "--name {name:?} may not hold '#', a line break or control characters; e.g. --name alice"
                );
            }
            match trust::add(home, &key, name, !name.is_empty())? {
                (k, trust::Added::New) => eprintln!(
                    "Trusted issuer {k} as {:?}: running proxies open what it wraps within a second, and \
                     their audit lines name it.",
                    trust::name_of(&k, name)
                ),
                (k, trust::Added::Renamed { from }) => eprintln!(
                    "Issuer {k} was trusted as {:?}; it is {:?} now, in running proxies' audit lines \
                     within a second.",
                    trust::name_of(&k, &from),
                    trust::name_of(&k, name)
                ),
                (k, trust::Added::Already(note)) => eprintln!(
                    "Issuer {k} is already trusted, as {:?}; nothing changed (rename it with --name NAME).",
                    trust::name_of(&k, &note)
                ),
            }
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
                    "{k}  # {} (this home's own issuer, {})",
                    trust::LOCAL_NAME,
                    home.join(trust::LOCAL_ISSUER_FILE).display()
                );
            }
            for (k, note) in trust::list(home)? {
                println!("{k}  # {}", trust::name_of(&k, &note));
            }
        }
    }
    Ok(())
}

/// `macaroon-proxy check-config FILE`: the checks `run --config FILE` makes, binding nothing.
fn check_config(file: &std::path::Path) -> anyhow::Result<()> {
    let fail = |e: anyhow::Error| {
        anyhow::anyhow!("{e:#}\n(the keys are the long flag names of `macaroon-proxy run --help`; check the file again once fixed)")
    };
    let f = crate::config_file::ConfigFile::load(file).map_err(fail)?;
    f.config(&Default::default()).map_err(fail)?;
    let set = f.summary();
    println!(
        "{}: ok, sets {} of the `run` flags (the others keep their defaults; flags on the command line win):",
        file.display(),
        set.len()
    );
    for line in set {
        println!("  {line}");
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

/// `run_matches`: what clap parsed for `run`, to tell the command line's flags from a
/// config file's.
fn run(cli: Cli, run_matches: Option<&clap::ArgMatches>) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "macaroon-proxy", &mut std::io::stdout());
        return Ok(());
    }
    if let Command::CheckConfig { file } = &cli.command {
        return check_config(file);
    }
    let home = macaroon_home::locate(cli.home.as_deref())
        .context("no home directory found; pass --home DIR or set MACAROON_HOME")?;
    for warning in macaroon_home::writable_by_others(&home) {
        eprintln!("macaroon-proxy: {warning}");
    }
    match cli.command {
        Command::Keygen { if_missing: true, .. } if home.join(macaroon_home::PRIVATE_KEY_FILE).exists() => {
            let public = home.join(macaroon_home::PUBLIC_KEY_FILE);
            let text = std::fs::read_to_string(&public).with_context(|| {
                format!(
                    "{} exists but {} cannot be read; restore it, or run keygen --force (tokens sealed to the old key stop working)",
                    home.join(macaroon_home::PRIVATE_KEY_FILE).display(),
                    public.display()
                )
            })?;
            eprintln!(
                "{} exists; kept it (--if-missing)",
                home.join(macaroon_home::PRIVATE_KEY_FILE).display()
            );
            println!("{}", text.trim());
            Ok(())
        }
        Command::Keygen { force, .. } => {
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
        Command::Key {
            action: KeyAction::Show,
        } => key_show(&home),
        Command::Completions { .. } | Command::CheckConfig { .. } => Ok(()),
        Command::Run(a) => {
            let (cfg, source) = crate::config_file::resolve(&a, run_matches)?;
            crate::run::run_with(&home, cfg, source)
        }
        Command::Revoke {
            token,
            family,
            undo,
            state,
            state_password_file,
        } => revoke(
            &home,
            &token,
            Grain { family, undo },
            state.as_deref(),
            state_password_file.as_deref(),
        ),
        Command::Issuers { action } => issuers(&home, action),
        Command::Operator { action } => operator(&home, action),
        Command::Approvals { action } => crate::approvals_cli::run(&home, action),
        Command::Ca { proxy_url } => {
            // A CA made here for a home no proxy runs with is one no proxy signs with.
            if !home.join(crate::ca::CA_CERT_FILE).exists() {
                note_if_keyless(
                    &home,
                    "this CA is the one a proxy started with this home will use",
                );
            }
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
