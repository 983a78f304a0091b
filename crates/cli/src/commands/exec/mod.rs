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

#[cfg(target_os = "linux")]
pub mod isolate;
mod java;
#[cfg(target_os = "linux")]
pub mod sandbox;

/// Default lifetime of the token handed to the command.
const DEFAULT_EXPIRES: &str = "15m";

/// The variables that name a proxy (`exec` sets the first four).
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The environment `exec` sets, besides the token variables.
pub fn proxy_env(proxy: &str, bundle: &Path, ca: &Path) -> Vec<(&'static str, OsString)> {
    let mut env: Vec<(&'static str, OsString)> = Vec::new();
    for var in &PROXY_VARS[..4] {
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
    // Node 22.21+ and 24.5+ read the proxy variables only when asked to.
    env.push(("NODE_USE_ENV_PROXY", "1".into()));
    env
}

/// `JAVA_TOOL_OPTIONS` with the proxy (if Java should use one) and, where a JDK is
/// installed, a trust store holding the proxy CA, kept in `dir`. Any command may start a
/// JVM (a shell script, a build tool), so this is done whatever the command is.
fn set_java(cmd: &mut Command, proxy: Option<&str>, dir: &Path, ca: &Path) {
    let store = java::truststore(dir, ca);
    let proxy = proxy.and_then(|p| proxy_host_port(p).ok());
    if let Some(opts) = java::tool_options(proxy, store.as_deref()) {
        cmd.env("JAVA_TOOL_OPTIONS", opts);
    }
}

/// The host and port of the proxy URL.
fn proxy_host_port(proxy: &str) -> anyhow::Result<(String, u16)> {
    let uri: http::Uri = proxy
        .parse()
        .with_context(|| format!("--proxy {proxy:?} is not a URL; use e.g. http://127.0.0.1:8080"))?;
    let host = uri
        .host()
        .unwrap_or("127.0.0.1")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    });
    Ok((host, port))
}

/// Warns when the command is a Node too old to honour `NODE_USE_ENV_PROXY`: its `fetch`
/// and `https` requests would go straight to the real host with the token as the key.
fn warn_about_old_node(program: &std::ffi::OsStr) {
    let base = Path::new(program).file_name().unwrap_or_default();
    if base != "node" && base != "nodejs" {
        return;
    }
    let Ok(out) = Command::new(program).arg("--version").output() else {
        return;
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if node_honours_env_proxy(&version) == Some(false) {
        eprintln!(
            "macaroon: warning: Node {version} ignores HTTPS_PROXY for fetch and https \
             (NODE_USE_ENV_PROXY needs Node 22.21 or 24.5), so its requests will bypass the \
             proxy and fail; run it with --sandbox (every connection then goes through the \
             proxy), use a newer Node, or point the SDK's base URL at the proxy"
        );
    }
}

/// Whether a `node --version` answer (`v22.21.0`) honours `NODE_USE_ENV_PROXY`.
fn node_honours_env_proxy(version: &str) -> Option<bool> {
    let mut parts = version.trim().strip_prefix('v')?.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(match major {
        0..=21 | 23 => false,
        22 => minor >= 21,
        24 => minor >= 5,
        _ => true,
    })
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

fn python_hook(dir: &Path) -> anyhow::Result<OsString> {
    let dir = dir.join("python");
    macaroon_home::create_public_dir(&dir)?;
    macaroon_home::write_public_file(
        &dir.join("sitecustomize.py"),
        macaroon_home::SITECUSTOMIZE.as_bytes(),
    )?;
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
    if attenuation.label.is_none() {
        attenuation.label = args
            .command
            .first()
            .and_then(|p| crate::commands::attenuate::default_label(&p.to_string_lossy()));
    }
    let caveats = attenuation.caveats(SystemTime::now())?;
    let input = read_token(args.token.as_deref(), store)?;
    crate::commands::attenuate::refuse_too_many_limits(&input.token, &caveats)?;
    if let Some(w) = crate::commands::attenuate::revoked_warning(&input.token, home, store) {
        eprintln!("macaroon: warning: {w}");
    }
    let token = caveats.iter().fold(input.token, |t, c| t.attenuate(c)).encode();
    let proxy = args
        .proxy
        .or_else(|| std::env::var("MACAROON_PROXY").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    let ca = args.ca.unwrap_or_else(|| home.join("ca.pem"));
    let (program, rest) = args.command.split_first().context("no command given after --")?;

    let mut cmd;
    if args.no_isolate {
        // The command sees everything this user sees, the home included.
        let bundle = macaroon_home::write_trust_bundle(home, &ca)?;
        cmd = Command::new(program);
        cmd.args(rest);
        cmd.envs(proxy_env(&proxy, &bundle, &ca));
        cmd.env("PYTHONPATH", python_hook(home)?);
        set_java(&mut cmd, Some(&proxy), home, &ca);
    } else {
        cmd = isolated(home, &ca, &proxy, args.sandbox, &args.allow_direct, program, rest)?;
    }
    // The operator's admin API credentials are never the command's, isolated or not.
    for var in ["MACAROON_OPERATOR_TOKEN", "MACAROON_ADMIN_URL"] {
        cmd.env_remove(var);
    }
    cmd.env("MACAROON_TOKEN", &token);
    for var in &args.envs {
        cmd.env(var, &token);
    }
    if args.aws {
        for (var, value) in aws_env(&token) {
            cmd.env(var, value);
        }
    }
    proxy_answers(&proxy)?;
    // Under --sandbox every connection goes through the proxy, whatever Node does.
    if !args.sandbox {
        warn_about_old_node(program);
    }
    spawn(cmd, program)
}

/// The command, to be run by this binary's isolating stage (see [`isolate`]): the homes
/// covered, `MACAROON_*` variables and the session bus address removed, and the CA, its
/// bundle and the Python hook in a directory of their own outside every home.
#[cfg(target_os = "linux")]
fn isolated(
    home: &Path,
    ca: &Path,
    proxy: &str,
    sandboxed: bool,
    allow_direct: &[String],
    program: &std::ffi::OsStr,
    rest: &[OsString],
) -> anyhow::Result<Command> {
    let homes = homes_to_cover(home);
    let runtime = runtime_dir(&homes)?;
    let ca_pem = macaroon_home::read_ca(ca)?;
    let trust = write_trust(&runtime, &ca_pem)?;
    let sandbox = if sandboxed {
        let (host, port) = proxy_host_port(proxy)?;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        let resolv_conf = runtime.join("resolv.conf");
        write_if_changed(&resolv_conf, &sandbox::resolv_conf())?;
        Some(sandbox::Sandbox {
            proxy: format!("{host}:{port}"),
            resolv_conf,
            allow_direct: allow_direct.iter().map(|h| h.to_ascii_lowercase()).collect(),
        })
    } else {
        None
    };
    let plan = isolate::Plan {
        cover: homes,
        hide: session_bus_paths(),
        read_only: vec![runtime.clone()],
        refuse: std::env::var("MACAROON_EXEC_REFUSE")
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        sandbox,
    };
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg(program).args(rest);
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("MACAROON_") {
            cmd.env_remove(var);
        }
    }
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
    cmd.envs(proxy_env(
        proxy,
        &trust.join(macaroon_home::TRUST_BUNDLE_FILE),
        &trust.join("ca.pem"),
    ));
    if sandboxed {
        // Every connection is bridged to the proxy already, and the proxy's address is not
        // reachable from inside: a client that honoured these would only fail.
        let extra = ["NO_PROXY", "no_proxy", "NODE_USE_ENV_PROXY"];
        for var in PROXY_VARS.iter().chain(extra.iter()) {
            cmd.env_remove(var);
        }
    }
    let proxy = (!sandboxed).then_some(proxy);
    set_java(&mut cmd, proxy, &trust, &trust.join("ca.pem"));
    cmd.env("PYTHONPATH", python_hook(&runtime)?);
    cmd.env(isolate::PLAN_VAR, serde_json::to_string(&plan)?);
    Ok(cmd)
}

#[cfg(not(target_os = "linux"))]
fn isolated(
    _: &Path,
    _: &Path,
    _: &str,
    _: bool,
    _: &std::ffi::OsStr,
    _: &[OsString],
) -> anyhow::Result<Command> {
    bail!(
        "exec can hide the macaroon home from the command only on Linux; run the command as \
         another user or in a container, or pass --no-isolate to run it anyway (it could then \
         read every root token and key in the home)"
    )
}

/// Every macaroon home the command could find: the one in use, `$MACAROON_HOME`, and the
/// default under the config directory; those that exist, resolved, once each.
#[cfg(target_os = "linux")]
fn homes_to_cover(home: &Path) -> Vec<std::path::PathBuf> {
    let mut candidates = vec![home.to_path_buf()];
    if let Some(h) = std::env::var_os("MACAROON_HOME").filter(|h| !h.is_empty()) {
        candidates.push(h.into());
    }
    candidates.extend(macaroon_home::default_home());
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        candidates.push(Path::new(&h).join(".config/macaroon"));
    }
    let mut homes: Vec<std::path::PathBuf> = Vec::new();
    for c in candidates {
        if let Ok(real) = std::fs::canonicalize(&c) {
            if !homes.contains(&real) {
                homes.push(real);
            }
        }
    }
    homes
}

/// The session bus sockets and keyring directories a keyring client would use.
#[cfg(target_os = "linux")]
fn session_bus_paths() -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    if let Ok(address) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        for part in address.split(';') {
            let Some(params) = part.strip_prefix("unix:") else {
                continue;
            };
            for kv in params.split(',') {
                if let Some(path) = kv.strip_prefix("path=") {
                    paths.push(std::path::PathBuf::from(path));
                }
            }
        }
    }
    let mut runtime_dirs: Vec<std::path::PathBuf> = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(Into::into)
        .into_iter()
        .collect();
    runtime_dirs.push(format!("/run/user/{}", nix::unistd::getuid()).into());
    for dir in runtime_dirs {
        paths.push(dir.join("bus"));
        paths.push(dir.join("keyring"));
    }
    let mut kept: Vec<std::path::PathBuf> = Vec::new();
    for p in paths {
        if std::fs::symlink_metadata(&p).is_ok() && !kept.contains(&p) {
            kept.push(p);
        }
    }
    kept
}

/// A directory of this user's, outside every home, for what the isolated command reads:
/// `$XDG_RUNTIME_DIR/macaroon-exec`, else `macaroon-exec-UID` in the temporary directory.
#[cfg(target_os = "linux")]
fn runtime_dir(homes: &[std::path::PathBuf]) -> anyhow::Result<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = nix::unistd::getuid().as_raw();
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        candidates.push(std::path::PathBuf::from(d).join("macaroon-exec"));
    }
    candidates.push(std::env::temp_dir().join(format!("macaroon-exec-{uid}")));
    let mut why = Vec::new();
    for dir in candidates {
        let parent = dir.parent().and_then(|p| std::fs::canonicalize(p).ok());
        let Some(parent) = parent else {
            why.push(format!("{} has no parent directory", dir.display()));
            continue;
        };
        if homes.iter().any(|h| parent.starts_with(h)) {
            why.push(format!("{} is inside a macaroon home", dir.display()));
            continue;
        }
        let dir = parent.join(dir.file_name().unwrap_or_default());
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o022 == 0 => {
                return Ok(dir);
            }
            Ok(_) => why.push(format!(
                "{} is not a directory of this user's that only it may write",
                dir.display()
            )),
            Err(e) => why.push(format!("{}: {e}", dir.display())),
        }
    }
    bail!(
        "no private directory for the command's CA bundle ({}); set XDG_RUNTIME_DIR or TMPDIR \
         to a directory of your own",
        why.join("; ")
    )
}

/// Writes `ca.pem` and its bundle under `runtime`, in a directory named by their content
/// (two execs with different CAs never share one), each file replaced whole.
#[cfg(target_os = "linux")]
fn write_trust(runtime: &Path, ca_pem: &str) -> anyhow::Result<std::path::PathBuf> {
    use sha2::Digest;
    let bundle = macaroon_home::trust_bundle(ca_pem);
    let digest = sha2::Sha256::digest(bundle.as_bytes());
    let dir = runtime.join(format!("trust-{}", hex::encode(&digest[..6])));
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    for (name, text) in [
        ("ca.pem", ca_pem),
        (macaroon_home::TRUST_BUNDLE_FILE, bundle.as_str()),
    ] {
        write_if_changed(&dir.join(name), text)?;
    }
    Ok(dir)
}

/// Replaces `path` whole with `text` (0644, written beside it then renamed), unless it
/// already holds it: a command starting meanwhile never reads half a file.
fn write_if_changed(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    Ok(macaroon_home::write_public_file(path, text.as_bytes())?)
}

/// Fails early, saying how to fix it, when nothing listens where the command would be sent:
/// otherwise every request of the command fails with a connection error of its own words.
fn proxy_answers(proxy: &str) -> anyhow::Result<()> {
    let (host, port) = proxy_host_port(proxy)?;
    let host = host.as_str();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_that_honour_the_proxy_variables() {
        for (v, ok) in [
            ("v20.20.2", Some(false)),
            ("v22.20.0", Some(false)),
            ("v22.21.0", Some(true)),
            ("v23.11.0", Some(false)),
            ("v24.4.1", Some(false)),
            ("v24.5.0", Some(true)),
            ("v25.0.0", Some(true)),
            ("garbage", None),
        ] {
            assert_eq!(node_honours_env_proxy(v), ok, "{v}");
        }
    }

    #[test]
    fn node_is_asked_to_use_the_proxy_variables() {
        let env = proxy_env("http://127.0.0.1:9999", Path::new("/b"), Path::new("/c"));
        assert!(env.iter().any(|(k, v)| *k == "NODE_USE_ENV_PROXY" && v == "1"));
        assert!(env
            .iter()
            .any(|(k, v)| *k == "HTTPS_PROXY" && v == "http://127.0.0.1:9999"));
    }
}
