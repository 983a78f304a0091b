//! Shared setup for the proxy tests: a recording upstream, the proxy, a wrapped key, curl.

use std::process::Command;

use e2e::upstream::{Options, Upstream};
use e2e::{ProxyProcess, Session};

pub const HOST: &str = "api.example.test";
pub const OTHER: &str = "other.example.test";
pub const SECRET: &str = "sk_live_PROXY_E2E_SECRET_7Qz";

/// A proxy with a wrapped key (`api`, sealed for the given hosts) and a recording upstream.
pub struct World {
    pub s: Session,
    pub up: Upstream,
    pub proxy: ProxyProcess,
    pub token: String,
}

/// A world whose key (`api`) is sealed for HOST with injection rule `inject`.
pub fn world_with(inject: &str, extra: &[&str]) -> World {
    world_for(HOST, inject, extra)
}

/// A world whose key is sealed for `host`; the upstream also plays OTHER.
pub fn world_for(host: &str, inject: &str, extra: &[&str]) -> World {
    world_served(host, inject, extra, Options::default())
}

/// The default world, with an upstream that serves as `options` say.
pub fn world_on(options: Options) -> World {
    world_served(HOST, "bearer", &[], options)
}

fn world_served(host: &str, inject: &str, extra: &[&str], options: Options) -> World {
    world_keyed(SECRET, host, &["--inject", inject], extra, options)
}

/// A world whose key `api` holds `secret` (wrapped for `host` with `wrap_flags`).
pub fn world_keyed(secret: &str, host: &str, wrap_flags: &[&str], extra: &[&str], options: Options) -> World {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let mut args = vec!["wrap", "api", "--host", host];
    args.extend_from_slice(wrap_flags);
    let token = s.run_stdin("macaroon", &args, secret).ok().out().to_string();
    let up = Upstream::start_with("127.0.0.1:0", &[host, OTHER], options);
    let proxy = s.start_proxy(&up, &[host, OTHER], extra);
    World { s, up, proxy, token }
}

/// The default world: bearer injection, no extra flags.
pub fn world() -> World {
    world_with("bearer", &[])
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: String,
}

/// Runs curl with `args`, returning status, body and response headers.
pub fn curl(args: &[&str]) -> Reply {
    let dir = tempfile::tempdir().expect("tmp");
    let body = dir.path().join("body");
    let headers = dir.path().join("headers");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"])
        .args(args)
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("https_proxy")
        .env_remove("http_proxy")
        .output()
        .expect("curl");
    // With --next, -w prints once per transfer: the last three digits are the last status.
    let codes = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let status = codes[codes.len().saturating_sub(3)..].parse().unwrap_or(0);
    Reply {
        status,
        body: std::fs::read(&body).unwrap_or_default(),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
    }
}

pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

impl World {
    pub fn ca(&self) -> String {
        self.s.home().join("ca.pem").display().to_string()
    }

    /// curl through HTTPS_PROXY-style CONNECT with the proxy CA trusted.
    pub fn via_connect(&self, url: &str, extra: &[&str]) -> Reply {
        let ca = self.ca();
        let proxy = self.proxy.url();
        let mut args = vec!["--proxy", &proxy, "--cacert", &ca, url];
        args.extend_from_slice(extra);
        curl(&args)
    }

    pub fn narrow(&self, flags: &[&str]) -> String {
        let mut args = vec!["attenuate", "api"];
        args.extend_from_slice(flags);
        self.s.run("macaroon", &args).ok().out().to_string()
    }

    /// Asserts that a denied request never reached the upstream and that the audit log
    /// holds neither the secret nor a whole token.
    pub fn assert_clean(&self, before: usize) {
        assert_eq!(
            self.up.seen().len(),
            before,
            "a denied request reached the upstream"
        );
        let audit = std::fs::read_to_string(&self.proxy.audit_path).unwrap_or_default();
        assert!(!audit.contains(SECRET), "secret in the audit log");
        assert!(!audit.contains(&self.token[..60]), "token in the audit log");
        assert!(
            !self.proxy.stderr().contains(SECRET),
            "secret on the proxy's stderr"
        );
    }
}

/// `macaroon-proxy operator mint ARGS` in the world's home: the operator token.
pub fn operator_token(w: &World, args: &[&str]) -> String {
    let mut all = vec!["operator", "mint"];
    all.extend_from_slice(args);
    w.s.run("macaroon-proxy", &all).ok().out().to_string()
}

/// A call to the world's admin API: `curl -X METHOD URL`, with `token` as the bearer if
/// given and `body` as JSON.
pub fn admin_api(w: &World, token: Option<&str>, method: &str, path: &str, body: Option<&str>) -> Reply {
    let url = format!("http://{}{path}", w.proxy.admin);
    let auth = token.map(bearer);
    let mut args = vec!["-X", method];
    if let Some(a) = &auth {
        args.extend(["-H", a.as_str()]);
    }
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    args.push(&url);
    curl(&args)
}

/// The reply's body as JSON; the test fails, showing the body, if it is not.
pub fn json_of(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.body)))
}
