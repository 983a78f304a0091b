//! Transparent mode: a command in a network namespace with no proxy settings at all. Its
//! outbound 80/443 is REDIRECTed (in a "router" namespace where the proxy runs) to the
//! proxy, which recovers the original destination, intercepts TLS by SNI, and injects the
//! real key. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root), `ip` and `iptables`; skipped with
//! a printed reason otherwise (under CI, only a lack of capabilities may skip).
//!
//!   client ns (10.231.0.2) --veth--> router ns (10.231.0.1; proxy, REDIRECT 80/443)
//!   router ns (10.232.0.2) --veth--> this namespace (10.232.0.1; the test upstream)

use std::process::Command;

use e2e::upstream::Upstream;
use e2e::Session;

use crate::world::{HOST, SECRET};

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Two namespaces and their links; removed on drop.
struct Net {
    client: String,
    router: String,
    host_link: String,
}

impl Net {
    fn create(tag: &str, proxy_port: u16) -> Result<Net, String> {
        let net = Net {
            client: format!("mc-c-{tag}"),
            router: format!("mc-r-{tag}"),
            host_link: format!("mch{tag}"),
        };
        let (c, r, h) = (net.client.as_str(), net.router.as_str(), net.host_link.as_str());
        let rc = format!("mcrc{tag}");
        let cr = format!("mccr{tag}");
        let rh = format!("mcrh{tag}");
        let port = proxy_port.to_string();
        for cmd in [
            vec!["ip", "netns", "add", c],
            vec!["ip", "netns", "add", r],
            vec!["ip", "link", "add", &cr, "type", "veth", "peer", "name", &rc],
            vec!["ip", "link", "set", &cr, "netns", c],
            vec!["ip", "link", "set", &rc, "netns", r],
            vec!["ip", "link", "add", h, "type", "veth", "peer", "name", &rh],
            vec!["ip", "link", "set", &rh, "netns", r],
            vec!["ip", "addr", "add", "10.232.0.1/24", "dev", h],
            vec!["ip", "link", "set", h, "up"],
            vec![
                "ip",
                "netns",
                "exec",
                c,
                "ip",
                "addr",
                "add",
                "10.231.0.2/24",
                "dev",
                &cr,
            ],
            vec!["ip", "netns", "exec", c, "ip", "link", "set", &cr, "up"],
            vec!["ip", "netns", "exec", c, "ip", "link", "set", "lo", "up"],
            vec![
                "ip",
                "netns",
                "exec",
                c,
                "ip",
                "route",
                "add",
                "default",
                "via",
                "10.231.0.1",
            ],
            vec![
                "ip",
                "netns",
                "exec",
                r,
                "ip",
                "addr",
                "add",
                "10.231.0.1/24",
                "dev",
                &rc,
            ],
            vec![
                "ip",
                "netns",
                "exec",
                r,
                "ip",
                "addr",
                "add",
                "10.232.0.2/24",
                "dev",
                &rh,
            ],
            vec!["ip", "netns", "exec", r, "ip", "link", "set", &rc, "up"],
            vec!["ip", "netns", "exec", r, "ip", "link", "set", &rh, "up"],
            vec!["ip", "netns", "exec", r, "ip", "link", "set", "lo", "up"],
            vec![
                "ip",
                "netns",
                "exec",
                r,
                "iptables",
                "-t",
                "nat",
                "-A",
                "PREROUTING",
                "-i",
                &rc,
                "-p",
                "tcp",
                "-m",
                "multiport",
                "--dports",
                "80,443",
                "-j",
                "REDIRECT",
                "--to-ports",
                &port,
            ],
        ] {
            sh(&cmd)?;
        }
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.client]);
        let _ = sh(&["ip", "netns", "del", &self.router]);
        let _ = sh(&["ip", "link", "del", &self.host_link]);
    }
}

/// The capabilities (bit numbers in /proc/self/status `CapEff`) that building namespaces,
/// veths and NAT rules takes, and that this process lacks.
fn missing_capabilities() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    [("CAP_NET_ADMIN", 12), ("CAP_SYS_ADMIN", 21)]
        .into_iter()
        .filter(|(_, bit)| effective & (1 << bit) == 0)
        .map(|(name, _)| name)
        .collect()
}

/// Skips and returns false where the test cannot run: without the capabilities (not
/// root, or a container without them) it skips even under CI, loudly; without a tool
/// that `.ci/run` installs it skips on a workstation and fails under CI.
fn can_run() -> bool {
    let lacking = missing_capabilities();
    if !lacking.is_empty() {
        e2e::skip_platform(format!(
            "the transparent mode test needs {} (network namespaces, veths, iptables NAT); \
             run it as root outside a restricted container",
            lacking.join(" and ")
        ));
        return false;
    }
    for (tool, install) in [
        ("ip", "apt-get install iproute2"),
        ("iptables", "apt-get install iptables"),
        ("curl", "apt-get install curl"),
    ] {
        if let Some(why) = e2e::missing_tool(tool, install) {
            e2e::skip_or_fail(why);
            return false;
        }
    }
    true
}

#[test]
fn unmodified_curl_in_a_namespace_gets_the_real_key_injected() {
    if !can_run() {
        return;
    }
    let tag = format!("{}", std::process::id() % 100_000);
    let proxy_port = 18443;
    let net = match Net::create(&tag, proxy_port) {
        Ok(n) => n,
        // With the capabilities and the tools at hand, this is a broken set-up, not a
        // missing prerequisite.
        Err(e) => return e2e::skip_or_fail(format!("cannot build the test network: {e}")),
    };
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    let token = s
        .run_stdin("macaroon", &["wrap", "api", "--host", HOST], SECRET)
        .ok()
        .out()
        .to_string();
    let up = Upstream::start_on("10.232.0.1:0", &[HOST]);
    let listen = format!("0.0.0.0:{proxy_port}");
    let proxy = s.start_proxy_via(
        &["ip", "netns", "exec", &net.router],
        &listen,
        &up,
        &[HOST],
        &["--transparent"],
    );
    let ca = s.home().join("ca.pem").display().to_string();

    // No proxy settings: curl believes it talks to api.example.test at a public address.
    let curl = |scheme: &str, auth: &str| -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &net.client,
                "curl",
                "-sS",
                "--max-time",
                "20",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args([
                "--cacert",
                &ca,
                "--resolve",
                &format!("{HOST}:443:203.0.113.10"),
                "--resolve",
                &format!("{HOST}:80:203.0.113.10"),
            ])
            .arg(format!("{scheme}://{HOST}/v1/charges"))
            .args(["-H", auth])
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .output()
            .expect("curl");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert_eq!(
        curl("https", &format!("Authorization: Bearer {token}")),
        "200",
        "{}",
        proxy.stderr()
    );
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // Plain HTTP is intercepted too, and the key still travels upstream over TLS only.
    assert_eq!(curl("http", &format!("Authorization: Bearer {token}")), "200");
    assert_eq!(
        up.seen()[1].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // Without a token nothing goes through.
    assert_eq!(curl("https", "X-Nothing: 1"), "401");
    // Nor with a token that someone inside the sandbox wrapped with the proxy's public key
    // under an issuer of their own: the proxy is no open relay.
    let attacker = Session::new();
    let proxy_pub = std::fs::read_to_string(s.home().join("proxy.pub")).expect("proxy.pub");
    let forged = attacker
        .run_stdin(
            "macaroon",
            &[
                "wrap",
                "mine",
                "--host",
                HOST,
                "--proxy-key",
                proxy_pub.trim(),
                "--no-store",
            ],
            "sk_attacker_own_key",
        )
        .ok()
        .out()
        .to_string();
    assert_eq!(curl("https", &format!("Authorization: Bearer {forged}")), "401");
    assert_eq!(up.seen().len(), 2);
    let audit = proxy.audit();
    assert_eq!(audit[0]["mode"], "transparent");
    drop(proxy);
    drop(net);
}
