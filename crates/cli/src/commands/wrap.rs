//! `macaroon wrap`: seal a real API key to the proxy and print the root token.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context};
use caveat::{Grant, Host, Injection, MintRequest, OAuth2, PublicKey, Secret, SigV4Keys, Token};
use macaroon_home::PublicKeyFile;

use crate::cli::WrapArgs;
use crate::store::{check_name, Backend, Entry, Store};

/// Runs `wrap`.
pub fn run(args: WrapArgs, home: &Path, store: &Store) -> anyhow::Result<()> {
    if !args.no_store {
        check_name(&args.name)?;
    }
    let hosts = args
        .hosts
        .iter()
        .map(|h| Host::normalize(h).with_context(|| format!("--host {h:?} is not a host name")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let inject: Injection = args.inject.parse().context("--inject")?;
    let kind = CredentialKind::of(&inject, args.token_url.as_deref())?;
    let now = SystemTime::now();
    let expires = args
        .expires
        .as_deref()
        .map(|d| crate::time::parse_duration(d, "--expires").map(|d| crate::time::whole_seconds(now + d)))
        .transpose()?;
    let proxy_key = proxy_key(args.proxy_key.as_deref(), home)?;
    // A key kept elsewhere is checked before the secret is asked for; this home's own is
    // created only once the secret was read (a secret refused as read leaves nothing behind).
    let kept = match &args.issuer_key {
        Some(path) => Some(crate::issuer::from_file(path).context("--issuer-key")?),
        None => None,
    };
    let secret = kind.read(&args.name)?;
    let issuer = match kept {
        Some(k) => k,
        None => crate::issuer::load_or_create(home, store)?,
    };
    let issuer_public = issuer.public().to_string();
    let (token, kid) = Token::mint_root(
        &proxy_key,
        MintRequest {
            secret,
            inject: inject.clone(),
            hosts: hosts.clone(),
            expires,
            location: args.location,
            issuer,
        },
        now,
    )?;
    let encoded = zeroize::Zeroizing::new(token.encode());
    check_usable_size(encoded.len(), &inject)?;
    let hosts_text: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    if args.no_store {
        eprintln!(
            "Wrapped a key for {} ({inject}); not stored.",
            hosts_text.join(", ")
        );
    } else {
        let entry = Entry {
            name: args.name.clone(),
            created: caveat::fmt_time(now),
            hosts: hosts_text.clone(),
            expires: expires.map(caveat::fmt_time),
            inject: inject.to_string(),
            proxy_key_id: proxy_key.key_id().to_string(),
            store: Backend::File,
            kid: Some(kid),
            branch: Some(token.branch_id()),
            identifier_digest: Some(token.identifier_digest()),
            issuer: Some(issuer_public),
        };
        let backend = store.put(entry, &encoded, args.force)?;
        let place = match backend {
            Backend::Keyring => "the OS keyring".to_string(),
            Backend::File => format!("{}", home.join("tokens").join(&args.name).display()),
        };
        eprintln!(
            "Wrapped a key for {} ({inject}), stored as {:?} in {place}.\n\
             Hand out narrowed copies, e.g.: macaroon attenuate {} --expires 10m --method GET",
            hosts_text.join(", "),
            args.name,
            args.name
        );
    }
    println!("{}", encoded.as_str());
    Ok(())
}

/// The proxy reads at most 64 KiB of request head (the header with the token, the others,
/// the request line) and 16 KiB of request target.
const PROXY_HEAD_LIMIT: usize = 64 * 1024;
const PROXY_TARGET_LIMIT: usize = 16 * 1024;
/// Room left in either for the rest of a request and the caveats `attenuate` adds.
const HEADROOM: usize = 4 * 1024;

/// Refuses a token that could never reach the proxy whole: one too long for its request
/// head (or, for `query:` injection, its request target), however it is narrowed.
fn check_usable_size(len: usize, inject: &Injection) -> anyhow::Result<()> {
    let (limit, what) = match inject {
        Injection::Query(_) => (PROXY_TARGET_LIMIT, "request target (URL)"),
        _ => (PROXY_HEAD_LIMIT, "request head"),
    };
    let max = limit - HEADROOM;
    if len > max {
        bail!(
            "the secret is too long to wrap: its token would be {len} bytes, but the proxy reads at most \
             {} KiB of {what}, so a token over {max} bytes (leaving room for the rest of the request) could \
             never be used; wrap a shorter secret{}",
            limit / 1024,
            if matches!(inject, Injection::Query(_)) {
                ", or send it in a header (--inject header:NAME)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The proxy public key: --proxy-key / MACAROON_PROXY_KEY (base64 or a file), else
/// `$MACAROON_HOME/proxy.pub`.
pub(crate) fn proxy_key(flag: Option<&str>, home: &Path) -> anyhow::Result<PublicKey> {
    if let Some(value) = flag.map(str::trim).filter(|v| !v.is_empty()) {
        let path = Path::new(value);
        if path.is_file() {
            return Ok(PublicKey::load(path)?);
        }
        return Ok(PublicKey::from_base64(
            value,
            "--proxy-key (or MACAROON_PROXY_KEY)",
        )?);
    }
    let path = home.join(macaroon_home::PUBLIC_KEY_FILE);
    if !path.exists() {
        bail!(
            "no proxy public key: {} does not exist. Start the proxy in this home once (`macaroon-proxy \
             run` creates its key) or run `macaroon-proxy keygen`; for a proxy elsewhere, pass --proxy-key \
             (or set MACAROON_PROXY_KEY) with the key `macaroon-proxy key show` prints there",
            path.display()
        );
    }
    Ok(PublicKey::load(&path)?)
}

/// What `wrap` reads for an injection rule: one key, or a credential's JSON.
enum CredentialKind<'a> {
    /// One API key.
    Key,
    /// OAuth2 client and grant JSON, for this token URL.
    OAuth2(Grant, &'a str),
    /// AWS keys JSON.
    SigV4,
}

impl<'a> CredentialKind<'a> {
    /// Checks that `--token-url` goes with the OAuth2 rules, and only with them.
    fn of(inject: &Injection, token_url: Option<&'a str>) -> anyhow::Result<Self> {
        let grant = match inject {
            Injection::OAuth2Refresh => Some(Grant::Refresh),
            Injection::OAuth2ClientCredentials => Some(Grant::ClientCredentials),
            _ => None,
        };
        match (grant, token_url) {
            (Some(g), Some(url)) => {
                // Checked now, before anything is asked for.
                caveat::TokenUrl::parse(url).context("--token-url")?;
                Ok(CredentialKind::OAuth2(g, url))
            }
            (Some(_), None) => bail!(
                "--inject {inject} needs --token-url, the provider's token endpoint, e.g. \
                 --token-url https://oauth2.googleapis.com/token"
            ),
            (None, Some(_)) => {
                bail!("--token-url is for --inject oauth2-refresh or oauth2-client-credentials, not {inject}")
            }
            (None, None) if matches!(inject, Injection::SigV4(_)) => Ok(CredentialKind::SigV4),
            (None, None) => Ok(CredentialKind::Key),
        }
    }

    /// Reads the key or the credential JSON from the prompt or stdin, checked.
    fn read(&self, name: &str) -> anyhow::Result<Secret> {
        let (grant, url) = match self {
            CredentialKind::Key => return read_secret(name),
            CredentialKind::SigV4 => {
                let json = read_json(
                    name,
                    r#"AWS keys for {name} as {"access_key_id","secret_access_key","session_token"?}"#,
                )?;
                return Ok(SigV4Keys::from_json(&json)?.to_secret());
            }
            CredentialKind::OAuth2(grant, url) => (*grant, *url),
        };
        let json = read_json(
            name,
            r#"OAuth2 client for {name} as {"client_id","client_secret","refresh_token","scope"?}"#,
        )?;
        Ok(OAuth2::from_input(grant, url, &json)?.to_secret())
    }
}

/// Reads a credential's JSON: one hidden line on a terminal (it holds secrets), else all of
/// stdin (it may span lines).
fn read_json(name: &str, prompt: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let stdin = std::io::stdin();
    let json = if stdin.is_terminal() {
        zeroize::Zeroizing::new(
            dialoguer::Password::new()
                .with_prompt(prompt.replace("{name}", name))
                .interact()
                .context("could not read the credential from the terminal")?,
        )
    } else {
        let mut buf = zeroize::Zeroizing::new(String::new());
        stdin
            .lock()
            .read_to_string(&mut buf)
            .context("could not read the credential from stdin")?;
        buf
    };
    if json.trim().is_empty() {
        bail!("the credential is empty; pipe its JSON in, e.g.: macaroon wrap {name} ... < credential.json");
    }
    Ok(json)
}

/// Reads the secret: a hidden prompt asked twice on a terminal (an unusable entry is
/// explained and asked again), else all of stdin (one trailing newline removed).
fn read_secret(name: &str) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let value = dialoguer::Password::new()
            .with_prompt(format!("API key for {name}"))
            .with_confirmation("Repeat it", "The two entries differ; try again")
            .allow_empty_password(true)
            // Checked before "Repeat it": nobody should type an empty key twice to learn
            // that it was refused.
            .validate_with(|v: &String| match key_problem(v) {
                Some(problem) => Err(format!("{problem}: type or paste it again (Ctrl-C to cancel)")),
                None => Ok(()),
            })
            .interact()
            .context("could not read the key from the terminal")?;
        return Ok(Secret::new(value));
    }
    let mut buf = zeroize::Zeroizing::new(String::new());
    stdin
        .lock()
        .read_to_string(&mut buf)
        .context("could not read the key from stdin")?;
    let trimmed = buf
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&buf);
    match key_problem(trimmed) {
        Some(KeyProblem::Empty) => bail!(
            "the API key is empty: stdin held nothing; pipe the key in, e.g.: printf %s \"$KEY\" | macaroon \
             wrap {name} --host HOST (or run it in a terminal to be prompted)"
        ),
        Some(problem) => bail!("{problem}"),
        None => Ok(Secret::new(trimmed.to_string())),
    }
}

/// Why a key cannot be wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyProblem {
    Empty,
    SeveralLines,
    ControlCharacter,
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyProblem::Empty => "the API key is empty",
            KeyProblem::SeveralLines => "the API key spans several lines; pass exactly one key",
            KeyProblem::ControlCharacter => {
                "the API key holds a control character (a tab or escape pasted with it?); no HTTP \
                 header can carry it, so the proxy could never send it: pass the key alone"
            }
        })
    }
}

/// What makes `value` unusable as a key, if anything.
fn key_problem(value: &str) -> Option<KeyProblem> {
    if value.trim().is_empty() {
        Some(KeyProblem::Empty)
    } else if value.contains(['\n', '\r']) {
        Some(KeyProblem::SeveralLines)
    } else if value.chars().any(char::is_control) {
        Some(KeyProblem::ControlCharacter)
    } else {
        None
    }
}
