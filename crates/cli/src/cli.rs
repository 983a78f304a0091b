//! Flag definitions. Each command's flags are one `#[derive(Args)]` struct (`VerifyArgs`,
//! ...) that `main` hands whole to the command's `run`. Each field's `///` comment is its
//! `--help` text (the variant's comment is the command's); shared flag sets (`TokenArg`,
//! `Attenuation`) are flattened so every command reads them the same way.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Shell completion offers the stored names wherever a token or a stored NAME goes.
fn stored_names() -> clap_complete::ArgValueCandidates {
    clap_complete::ArgValueCandidates::new(crate::commands::completions::stored_names)
}

/// Scoped, short-lived, offline-attenuable stand-ins for your API keys.
///
/// Wrap a real API key once; hand agents and scripts narrowed macaroons instead. The
/// macaroon-proxy verifies each request, swaps the token for the key, and forwards only
/// to the host the key was wrapped for.
#[derive(Parser, Debug)]
#[command(name = "macaroon", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// The macaroon home (proxy key, stored tokens). Default: $MACAROON_HOME, else
    /// ~/.config/macaroon.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  macaroon wrap stripe --host api.stripe.com      # prompts for the key (or reads stdin)
  macaroon attenuate stripe --expires 10m --method GET --path /v1/charges --label billing-skill
  macaroon inspect \"$TOKEN\"
  macaroon verify \"$TOKEN\" --method GET --url https://api.stripe.com/v1/charges";

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Seal a real API key into a new root token, store it under NAME and print it.
    ///
    /// The key is read from a hidden prompt (asked twice), or from stdin when stdin is
    /// not a terminal. It is sealed to the proxy's public key: only the proxy can open it,
    /// and it will only ever be sent to the --host hosts.
    #[command(after_help = "\
Examples:
  macaroon wrap stripe --host api.stripe.com
  printf %s \"$OPENAI_API_KEY\" | macaroon wrap openai --host api.openai.com --expires 90d
  macaroon wrap github --host api.github.com --inject header:authorization --no-store")]
    Wrap(WrapArgs),

    /// Show this home's issuer key: what a proxy operator trusts to open what you wrap.
    ///
    /// Every key `wrap` seals is signed by this home's issuer key (created by the first
    /// wrap, in the OS keyring or $MACAROON_HOME/issuer.key, 0600). A proxy opens only what
    /// issuers it trusts have signed; a proxy using the same home trusts it already.
    #[command(after_help = "\
Examples:
  macaroon issuer show
  macaroon-proxy issuers add \"$(macaroon issuer show)\"   # where the proxy runs")]
    Issuer(IssuerArgs),

    /// Add caveats to a token, offline, and print the narrower token.
    ///
    /// Caveats can be added by anyone holding the token and never removed. Values of one
    /// repeated flag are alternatives (--method GET --method HEAD: either); separate
    /// attenuate calls intersect (both must hold). --expires never extends an earlier
    /// expiry: the earliest one always wins.
    #[command(after_help = "\
Examples:
  macaroon attenuate stripe --expires 10m --method GET --path /v1/charges
  macaroon attenuate - --path-glob '/v1/customers/*/sources' < token.txt
  macaroon attenuate \"$TOKEN\" --caveat 'host = api.stripe.com' --not-before 2026-12-01T09:00:00Z
  macaroon attenuate stripe --method POST --path /v1/payment_intents --form 'amount <= 5000' --form 'currency = usd'
  macaroon attenuate openai --json '/model in gpt-4o-mini gpt-4.1-mini' --json '/max_tokens <= 1000' --max-body 65536
  macaroon attenuate github-mcp --mcp-tool list_issues --mcp-tool get_issue
  macaroon attenuate github --path /graphql --graphql-operation query --graphql-field viewer --graphql-field repository")]
    Attenuate(AttenuateArgs),

    /// Mint a discharge for a third-party caveat (run by the third party, e.g. an
    /// approval service), optionally narrowed with the attenuation flags.
    ///
    /// The holder binds it to the token with `macaroon bind` and sends it in a
    /// Macaroon-Discharge header next to the token.
    #[command(after_help = "\
Examples:
  macaroon discharge approval-42 --key \"$APPROVAL_KEY\" --expires 5m
  macaroon discharge approval-42 --key \"$APPROVAL_KEY\" --method POST --path /v1/refunds")]
    Discharge(DischargeArgs),

    /// Bind discharges to a token, just before using them; prints one bound discharge per
    /// line. Bind after the last attenuation: binding is to this exact token.
    #[command(after_help = "\
Example:
  curl -H \"Authorization: Bearer $TOKEN\" -H \"Macaroon-Discharge: $(macaroon bind \"$TOKEN\" \"$DISCHARGE\")\" ...")]
    Bind(BindArgs),

    /// Show what a token allows, in plain words (or --json).
    ///
    /// The signature is never shown, only its fingerprint: the identifier, caveats and
    /// signature together are the token.
    #[command(after_help = "\
Examples:
  macaroon inspect stripe
  macaroon inspect \"$TOKEN\" --json | jq .caveats")]
    Inspect(InspectArgs),

    /// Dry-run the proxy's decision for a request: exit 0 if allowed, 1 if denied.
    ///
    /// Needs the proxy's private key (default $MACAROON_HOME/proxy.key) to open the
    /// sealed identifier, exactly as the proxy does. The request body is --data or
    /// --data-file; with neither, body caveats (form, json, body size, mcp, graphql) are
    /// checked against an empty body.
    #[command(after_help = "\
Examples:
  macaroon verify \"$TOKEN\" --method GET --url https://api.stripe.com/v1/charges
  macaroon verify agent --method POST --url https://api.stripe.com/v1/refunds --json
  macaroon verify stripe -X POST --url https://api.stripe.com/v1/payment_intents --data 'amount=5000&currency=usd'
  macaroon verify openai -X POST --url https://api.openai.com/v1/chat/completions \\
      --content-type application/json --data-file request.json
  macaroon verify github -X POST --url https://api.github.com/graphql \\
      --content-type application/json --data '{\"query\":\"{ viewer { login } }\"}'")]
    Verify(VerifyArgs),

    /// Run an unmodified command with a fresh short-lived token and the proxy settings.
    ///
    /// Mints a narrowed token (15 minutes unless --expires says otherwise, plus any
    /// attenuation flags), puts it in each --env variable, points HTTPS_PROXY/HTTP_PROXY at
    /// the proxy, makes the proxy's CA trusted (SSL_CERT_FILE, REQUESTS_CA_BUNDLE,
    /// CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS, GIT_SSL_CAINFO...), then runs the command in
    /// place of itself: its exit status and signals are its own.
    #[command(after_help = "\
Examples:
  macaroon exec --token stripe --env STRIPE_API_KEY -- python3 charge_report.py
  macaroon exec --token openai --env OPENAI_API_KEY --expires 5m --path /v1/chat -- ./agent.sh
  macaroon exec --token gh --env GH_TOKEN --method GET -- gh api /user")]
    Exec(ExecArgs),

    /// Mount a read-only directory of named tokens (Linux, FUSE): each read is a fresh token.
    ///
    /// One file per --token NAME (never every stored token); every read returns a newly
    /// narrowed token (the attenuation flags; --expires defaults to 5m). Ctrl-C unmounts.
    ///
    /// Per-file policies, added to the flags, come from $MACAROON_HOME/mount.toml (or --config):
    ///   expires = "5m"            # default for every file
    ///   [files.stripe]
    ///   expires = "10m"
    ///   paths = ["/v1/charges"]
    ///   methods = ["GET"]
    // Verbatim: the TOML example above keeps its lines (clap would join them into one).
    #[command(
        verbatim_doc_comment,
        after_help = "\
Examples:
  macaroon mount ~/tokens --token stripe --method GET &
  cat ~/tokens/stripe          # a GET-only token that expires in 5 minutes"
    )]
    Mount(MountArgs),

    /// List stored tokens.
    #[command(after_help = "Examples:\n  macaroon list\n  macaroon list --json\n  macaroon list --names")]
    List(ListArgs),

    /// Remove a stored token.
    #[command(after_help = "Example:\n  macaroon rm stripe")]
    Rm(RmArgs),

    /// Print the script that sets up shell completion (stored names included).
    ///
    /// The script asks `macaroon` (on PATH) on every TAB, so it offers the names stored at
    /// that moment wherever a token or a stored NAME goes. Regenerate it after upgrading.
    #[command(
        after_help = "Examples:\n  macaroon completions bash > ~/.local/share/bash-completion/completions/macaroon\n  macaroon completions zsh > ~/.zfunc/_macaroon\n  macaroon completions fish > ~/.config/fish/completions/macaroon.fish"
    )]
    Completions(CompletionsArgs),
}

/// Flags of `issuer`.
#[derive(Args, Debug)]
pub struct IssuerArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: IssuerAction,
}

/// Flags of `attenuate`.
#[derive(Args, Debug)]
pub struct AttenuateArgs {
    /// The token to narrow.
    #[command(flatten)]
    pub token: TokenArg,
    /// What to add.
    #[command(flatten)]
    pub attenuation: Attenuation,
    /// A third-party caveat to add.
    #[command(flatten)]
    pub third_party: ThirdPartyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "v2")]
    pub format: OutputFormat,
    /// Turn the warnings (no expiry, already expired, allows nothing, unusual method, a
    /// --host outside the hosts the key was wrapped for) into errors: exit 2 and print
    /// no token.
    #[arg(long)]
    pub strict: bool,
}

/// Flags of `discharge`.
#[derive(Args, Debug)]
pub struct DischargeArgs {
    /// The caveat id from the token's third-party caveat (see `macaroon inspect`).
    pub caveat_id: String,
    /// The key shared between the token's holder and this third party.
    #[arg(
        long,
        value_name = "KEY",
        env = "MACAROON_THIRD_PARTY_KEY",
        hide_env_values = true
    )]
    pub key: String,
    /// Advisory location of the discharge.
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    /// Caveats on the discharge itself.
    #[command(flatten)]
    pub attenuation: Attenuation,
    /// Output format.
    #[arg(long, value_enum, default_value = "v2")]
    pub format: OutputFormat,
}

/// Flags of `bind`.
#[derive(Args, Debug)]
pub struct BindArgs {
    /// The token the discharges are for.
    #[command(flatten)]
    pub token: TokenArg,
    /// Discharges (as minted by `macaroon discharge`), at least one.
    #[arg(long = "discharge", value_name = "DISCHARGE", required = true)]
    pub discharges: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "v2")]
    pub format: OutputFormat,
}

/// Flags of `inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The token to inspect.
    #[command(flatten)]
    pub token: TokenArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Bound discharges to check against the third-party caveats (repeatable).
    #[arg(long = "discharge", value_name = "DISCHARGE")]
    pub discharges: Vec<String>,
}

/// Flags of `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The token to check.
    #[command(flatten)]
    pub token: TokenArg,
    /// The request method.
    #[arg(long, short = 'X', value_name = "METHOD")]
    pub method: String,
    /// The request URL (https://HOST/PATH?QUERY).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The request body, as sent (like curl --data). Default: an empty body.
    #[arg(long, short = 'd', value_name = "BODY", conflicts_with = "data_file")]
    pub data: Option<String>,
    /// Read the request body from this file, byte for byte.
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// The body's Content-Type. Default with --data or --data-file:
    /// application/x-www-form-urlencoded, as curl sends; otherwise none.
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// The proxy private key. Default: $MACAROON_HOME/proxy.key.
    #[arg(long, value_name = "PATH")]
    pub proxy_key_file: Option<PathBuf>,
    /// Also check revocations in the proxies' shared store (redis://HOST:PORT/DB), as
    /// `macaroon-proxy run --state` does.
    #[arg(long, value_name = "URL")]
    pub state: Option<String>,
    /// Print the decision as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Bound discharges for third-party caveats (repeatable).
    #[arg(long = "discharge", value_name = "DISCHARGE")]
    pub discharges: Vec<String>,
}

/// Flags of `mount`.
#[derive(Args, Debug)]
pub struct MountArgs {
    /// An existing empty directory to mount on.
    pub dir: std::path::PathBuf,
    /// A stored token to serve, as a file of the same name (repeatable).
    #[arg(long = "token", value_name = "NAME", required = true, add = stored_names())]
    pub tokens: Vec<String>,
    /// Caveats every read adds; --expires defaults to 5m.
    #[command(flatten)]
    pub attenuation: Attenuation,
    /// The policy file. Default: $MACAROON_HOME/mount.toml (optional).
    #[arg(long, value_name = "TOML")]
    pub config: Option<std::path::PathBuf>,
}

/// Flags of `list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "names")]
    pub json: bool,
    /// Print only the names, one per line (for scripts and shell completion).
    #[arg(long)]
    pub names: bool,
}

/// Flags of `rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// The stored name.
    #[arg(add = stored_names())]
    pub name: String,
}

/// Flags of `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// A third-party caveat: all three flags together.
#[derive(Args, Debug, Default)]
pub struct ThirdPartyArgs {
    /// Require a discharge from this third party (its URL) for every request.
    #[arg(long = "third-party", value_name = "LOCATION", requires_all = ["third_party_key", "caveat_id"])]
    pub third_party: Option<String>,
    /// The key shared with the third party (it mints discharges with the same key).
    #[arg(long, value_name = "KEY", requires = "third_party")]
    pub third_party_key: Option<String>,
    /// The caveat id the third party will be asked to discharge.
    #[arg(long, value_name = "ID", requires = "third_party")]
    pub caveat_id: Option<String>,
    /// Require a person's approval (at the proxy) for each request, or for a window with
    /// --approval-scope: a third-party caveat only the proxy can discharge. Offline: needs
    /// only the proxy's public key (this home's proxy.pub, --proxy-key or
    /// MACAROON_PROXY_KEY).
    #[arg(long, conflicts_with = "third_party")]
    pub approval: bool,
    /// What one approval covers: once (one exact request, the default) or a window like
    /// 10m or 1h (at most 24h).
    #[arg(
        long,
        value_name = "once|DURATION",
        requires = "approval",
        default_value = "once"
    )]
    pub approval_scope: String,
    /// The proxy's public key for --approval (base64 or a file; `macaroon-proxy key show`).
    #[arg(
        long,
        value_name = "PUBKEY",
        env = "MACAROON_PROXY_KEY",
        requires = "approval"
    )]
    pub proxy_key: Option<String>,
}

/// The libmacaroons serialization to print.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum OutputFormat {
    /// V2 binary, base64url without padding (the default everywhere).
    #[default]
    V2,
    /// V1 (for old libmacaroons-based tools).
    V1,
    /// V2 JSON.
    V2json,
}

impl From<OutputFormat> for caveat::WireFormat {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::V2 => caveat::WireFormat::V2,
            OutputFormat::V1 => caveat::WireFormat::V1,
            OutputFormat::V2json => caveat::WireFormat::V2Json,
        }
    }
}

/// Flags of `exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The token to narrow: a stored NAME or a token. Default: $MACAROON_TOKEN.
    #[arg(long, value_name = "NAME|TOKEN", add = stored_names())]
    pub token: Option<String>,
    /// Environment variable to put the token in (repeatable), e.g. STRIPE_API_KEY.
    /// MACAROON_TOKEN is always set too.
    #[arg(long = "env", value_name = "VAR")]
    pub envs: Vec<String>,
    /// For a sigv4 token: put it in AWS_SESSION_TOKEN, with dummy AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY, so AWS SDKs and the aws CLI send it as X-Amz-Security-Token.
    #[arg(long)]
    pub aws: bool,
    /// Caveats to add; --expires defaults to 15m.
    #[command(flatten)]
    pub attenuation: Attenuation,
    /// The proxy URL. Default: $MACAROON_PROXY, else http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// The proxy's CA certificate. Default: $MACAROON_HOME/ca.pem.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<std::path::PathBuf>,
    /// Run the command without hiding the macaroon homes from it. By default (Linux) it
    /// runs in its own user and mount namespaces where every home is an empty read-only
    /// directory and the keyring's session bus is unreachable, so it holds its token and
    /// nothing more. Without isolation it can read every root token and key in the home.
    #[arg(long)]
    pub no_isolate: bool,
    /// Linux: also give the command a network of its own whose only way out is the proxy.
    /// Every name resolves to an address that stands for it, and every TCP connection to
    /// one becomes a CONNECT through the proxy, so runtimes that ignore HTTPS_PROXY (Node
    /// before 22.21, Java, many Go programs) still go through it; raw IPs, UDP and the
    /// host's loopback services are unreachable. Needs iptables.
    #[arg(long, conflicts_with = "no_isolate")]
    pub sandbox: bool,
    /// With --sandbox: reach this host directly from outside, not through the proxy
    /// (repeatable); each such connection is said on stderr.
    #[arg(long, value_name = "HOST", requires = "sandbox")]
    pub allow_direct: Vec<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// `macaroon issuer` subcommands.
#[derive(Subcommand, Debug)]
pub enum IssuerAction {
    /// Print the issuer public key (creating the issuer key if this home has none).
    Show,
}

/// Flags of `wrap`.
#[derive(Args, Debug)]
pub struct WrapArgs {
    /// Name to store the root token under (letters, digits, '.', '_', '-').
    pub name: String,
    /// A host the key may be sent to (repeatable). The first is the default upstream
    /// when the proxy runs as a reverse proxy.
    #[arg(long = "host", value_name = "HOST", required = true)]
    pub hosts: Vec<String>,
    /// Where the proxy puts the key upstream: bearer, basic, header:NAME, query:NAME;
    /// oauth2-refresh or oauth2-client-credentials (reads {"client_id","client_secret",
    /// "refresh_token","scope"?} JSON; needs --token-url); sigv4:REGION:SERVICE (reads
    /// {"access_key_id","secret_access_key","session_token"?} JSON).
    #[arg(long, value_name = "RULE", default_value = "bearer")]
    pub inject: String,
    /// The OAuth2 token endpoint (https) for oauth2-refresh and oauth2-client-credentials,
    /// e.g. https://oauth2.googleapis.com/token.
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Hard expiry sealed into the token (e.g. 90d); no caveat can extend it.
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
    /// Advisory location recorded in the token (e.g. the proxy's URL).
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    /// The proxy public key (base64), or a file holding it. Default:
    /// $MACAROON_PROXY_KEY, else $MACAROON_HOME/proxy.pub.
    #[arg(
        long,
        value_name = "PUBKEY",
        env = "MACAROON_PROXY_KEY",
        hide_env_values = true
    )]
    pub proxy_key: Option<String>,
    /// Sign with this issuer key file (base64, mode 0600) instead of this home's.
    #[arg(long, value_name = "FILE")]
    pub issuer_key: Option<std::path::PathBuf>,
    /// Print the token without storing it.
    #[arg(long)]
    pub no_store: bool,
    /// Replace a stored token of the same name.
    #[arg(long)]
    pub force: bool,
}

/// Where a token comes from.
#[derive(Args, Debug)]
pub struct TokenArg {
    /// A token, a stored NAME, or '-' to read it from stdin. Default: $MACAROON_TOKEN.
    #[arg(value_name = "TOKEN", add = stored_names())]
    pub token: Option<String>,
}

/// Caveats to add, shared by every command that narrows a token.
#[derive(Args, Debug, Default, Clone)]
pub struct Attenuation {
    /// Expire this long from now (e.g. 10m, 1h 30m, 7d).
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
    /// Not valid before this time (RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z) or this long
    /// from now (e.g. 5m).
    #[arg(long, value_name = "TIME|DURATION")]
    pub not_before: Option<String>,
    /// Only these paths or below them (repeatable: any of them; one `path prefix` caveat).
    #[arg(long = "path", value_name = "PREFIX")]
    pub paths: Vec<String>,
    /// Only paths matching these globs: `*` one segment, `**` any (repeatable: any of them).
    #[arg(long = "path-glob", value_name = "GLOB")]
    pub path_globs: Vec<String>,
    /// Only these methods (repeatable: any of them; one `method in` caveat).
    #[arg(long = "method", value_name = "METHOD")]
    pub methods: Vec<String>,
    /// Only these hosts (repeatable: any of them; one `host in` caveat). Hosts are
    /// already limited to those the key was wrapped for; this narrows further.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// A query parameter the request must carry exactly once: 'NAME = V' or
    /// 'NAME in V1 V2' (repeatable: each one must hold). Parsed as `query NAME ...`.
    #[arg(long = "query", value_name = "'NAME = V'")]
    pub queries: Vec<String>,
    /// A form body field (application/x-www-form-urlencoded): 'amount <= 5000',
    /// 'currency = usd', 'NAME in V1 V2', 'NAME >= N' (repeatable: each one must hold).
    #[arg(long = "form", value_name = "'NAME <= N'")]
    pub forms: Vec<String>,
    /// A JSON body value at an RFC 6901 pointer: '/model in gpt-4o-mini gpt-4.1-mini',
    /// '/max_tokens <= 1000' (repeatable: each one must hold).
    #[arg(long = "json", value_name = "'/POINTER in A B'")]
    pub jsons: Vec<String>,
    /// Only these MCP tools in `tools/call` (repeatable: any of them; one `mcp tool in`
    /// caveat). Other tools are also removed from `tools/list` results.
    #[arg(long = "mcp-tool", value_name = "NAME")]
    pub mcp_tools: Vec<String>,
    /// Only these MCP (JSON-RPC) methods, notifications included (repeatable: any of them;
    /// one `mcp method in` caveat), e.g. initialize, tools/list, tools/call.
    #[arg(long = "mcp-method", value_name = "METHOD")]
    pub mcp_methods: Vec<String>,
    /// Only GraphQL operations of these types: query, mutation, subscription (repeatable;
    /// one `graphql operation in` caveat).
    #[arg(long = "graphql-operation", value_name = "TYPE")]
    pub graphql_operations: Vec<String>,
    /// Only these GraphQL root fields, in every operation (repeatable; one `graphql field in`
    /// caveat), e.g. viewer, repository.
    #[arg(long = "graphql-field", value_name = "FIELD")]
    pub graphql_fields: Vec<String>,
    /// At most this many bytes of request body (`body size <= N`).
    #[arg(long = "max-body", value_name = "BYTES")]
    pub max_body: Option<u64>,
    /// At most this many requests in total, by this token and every token narrowed from
    /// it (`uses <= N`; counted by the proxy, shared by its replicas through --state).
    #[arg(long = "uses", value_name = "N")]
    pub uses: Option<String>,
    /// At most N requests in any rolling window: 60/1m, 1000/1h, 5/30s (`rate <= N/DURATION`).
    #[arg(long = "rate", value_name = "N/DURATION")]
    pub rate: Option<String>,
    /// A caveat in the caveat language, e.g. 'path = /v1/balance' (repeatable).
    #[arg(long = "caveat", value_name = "EXPR")]
    pub caveats: Vec<String>,
    /// Name who holds the narrowed token (`label = NAME`: an agent, a skill; lower-case
    /// letters, digits, '.', '_', '-'). It allows as much as before; audit lines list a
    /// token's labels in order, as its delegation path.
    #[arg(long = "label", value_name = "NAME")]
    pub label: Option<String>,
}
