//! `macaroon exec`: run an unmodified command with a fresh short-lived token in its
//! environment and the proxy and CA settings every common runtime reads.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{bail, Context};

use crate::cli::ExecArgs;
use crate::input::read_token;
use crate::store::Store;
use crate::ExitStatus;

/// Default lifetime of the token handed to the command.
const DEFAULT_EXPIRES: &str = "15m";

/// The environment `exec` sets, besides the token variables.
pub fn proxy_env(proxy: &str, bundle: &Path, ca: &Path) -> Vec<(&'static str, OsString)> {
    let mut env: Vec<(&'static str, OsString)> = Vec::new();
    for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
        env.push((var, proxy.into()));
    }
    for var in ["NO_PROXY", "no_proxy"] {
        env.push((var, "localhost,127.0.0.1,::1".into()));
    }
    // Tools that replace their trust store get system roots plus our CA; Node adds to its own.
    for var in [
        "SSL_CERT_FILE",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "AWS_CA_BUNDLE",
    ] {
        env.push((var, bundle.into()));
    }
    env.push(("NODE_EXTRA_CA_CERTS", ca.into()));
    env
}

/// What an AWS SDK reads for `--aws`: dummy keys (the client signs with them; the proxy
/// throws that signature away and signs with the sealed keys) and the token as the session
/// token, which every SDK sends as `X-Amz-Security-Token`. Shared-file credentials and
/// profiles are turned off so the SDK cannot pick real keys from elsewhere.
pub fn aws_env(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", AWS_DUMMY_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", AWS_DUMMY_SECRET.to_string()),
        ("AWS_SESSION_TOKEN", token.to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
        ("AWS_CONFIG_FILE", "/dev/null".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

/// The dummy key id: short, so a client's `Authorization` line never looks like a token.
pub const AWS_DUMMY_KEY_ID: &str = "MACAROON";
const AWS_DUMMY_SECRET: &str = "macaroon-proxy-signs-for-you";

/// The Python startup hook (see the file's comment); placed first on PYTHONPATH.
const SITECUSTOMIZE: &str = include_str!("sitecustomize.py");

fn python_hook(home: &Path) -> anyhow::Result<OsString> {
    let dir = home.join("python");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    std::fs::write(dir.join("sitecustomize.py"), SITECUSTOMIZE)
        .with_context(|| format!("could not write {}", dir.join("sitecustomize.py").display()))?;
    let mut paths = vec![dir];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).context("PYTHONPATH holds a path that cannot be joined")
}

/// Runs `exec`.
pub fn run(args: ExecArgs, home: &Path, store: &Store) -> anyhow::Result<ExitStatus> {
    for var in &args.envs {
        let ok = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            bail!("--env {var:?} is not an environment variable name (letters, digits, '_')");
        }
    }
    let mut attenuation = args.attenuation;
    if attenuation.expires.is_none() {
        attenuation.expires = Some(DEFAULT_EXPIRES.to_string());
    }
    let caveats = attenuation.caveats(SystemTime::now())?;
    let input = read_token(args.token.as_deref(), store)?;
    crate::commands::attenuate::refuse_too_many_limits(&input.token, &caveats)?;
    let token = caveats.iter().fold(input.token, |t, c| t.attenuate(c)).encode();
    let proxy = args
        .proxy
        .or_else(|| std::env::var("MACAROON_PROXY").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    let ca = args.ca.unwrap_or_else(|| home.join("ca.pem"));
    let bundle = macaroon_home::write_trust_bundle(home, &ca)?;

    proxy_answers(&proxy)?;

    let (program, rest) = args.command.split_first().context("no command given after --")?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    cmd.envs(proxy_env(&proxy, &bundle, &ca));
    cmd.env("PYTHONPATH", python_hook(home)?);
    cmd.env("MACAROON_TOKEN", &token);
    for var in &args.envs {
        cmd.env(var, &token);
    }
    if args.aws {
        for (var, value) in aws_env(&token) {
            cmd.env(var, value);
        }
    }
    spawn(cmd, program)
}

/// Fails early, saying how to fix it, when nothing listens where the command would be sent:
/// otherwise every request of the command fails with a connection error of its own words.
fn proxy_answers(proxy: &str) -> anyhow::Result<()> {
    let uri: http::Uri = proxy
        .parse()
        .with_context(|| format!("--proxy {proxy:?} is not a URL; use e.g. http://127.0.0.1:8080"))?;
    let host = uri
        .host()
        .unwrap_or("127.0.0.1")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    });
    let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .with_context(|| format!("cannot resolve the proxy host {host:?} of {proxy}"))?
        .collect();
    let timeout = std::time::Duration::from_secs(2);
    if addrs
        .iter()
        .any(|a| std::net::TcpStream::connect_timeout(a, timeout).is_ok())
    {
        return Ok(());
    }
    bail!(
        "nothing answers at {proxy}: start the proxy with `macaroon-proxy run` (in another terminal), \
         or point --proxy or MACAROON_PROXY at the one you run"
    )
}

#[cfg(unix)]
fn spawn(mut cmd: Command, program: &std::ffi::OsStr) -> anyhow::Result<ExitStatus> {
    // Replace this process: the command gets our pid, its signals and its exit status.
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    let code = match err.kind() {
        std::io::ErrorKind::NotFound => 127,
        std::io::ErrorKind::PermissionDenied => 126,
        _ => 126,
    };
    eprintln!("macaroon: could not run {}: {err}", program.to_string_lossy());
    Ok(ExitStatus::External(code))
}

#[cfg(not(unix))]
fn spawn(mut cmd: Command, program: &std::ffi::OsStr) -> anyhow::Result<ExitStatus> {
    let status = cmd
        .status()
        .with_context(|| format!("could not run {}", program.to_string_lossy()))?;
    Ok(ExitStatus::External(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}
