//! `macaroon exec`: unmodified commands get a fresh short-lived token and the proxy
//! settings, and reach the upstream through the proxy with the real key injected.

use e2e::Session;

use crate::world::*;

/// `macaroon exec ARGS -- sh -c SCRIPT` in the world's home; returns the output.
fn exec(w: &World, args: &[&str], script: &str) -> e2e::Run {
    let mut cmd = w.s.cmd("macaroon");
    cmd.arg("exec")
        .args(args)
        .args(["--proxy", &w.proxy.url(), "--", "sh", "-c", script]);
    e2e::Run::from(cmd.output().expect("run exec"))
}

#[test]
fn exec_hands_the_command_a_fresh_short_lived_token() {
    let w = world();
    let run = exec(
        &w,
        &["--token", "api", "--env", "STRIPE_API_KEY", "--method", "GET"],
        r#"printf '%s\n%s\n%s\n%s\n' "$STRIPE_API_KEY" "$HTTPS_PROXY" "$SSL_CERT_FILE" "$MACAROON_TOKEN"; exit 7"#,
    );
    run.code(7);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_ne!(lines[0], w.token, "a narrowed token, not the root");
    assert_eq!(lines[0], lines[3], "MACAROON_TOKEN is set too");
    assert_eq!(lines[1], w.proxy.url());
    assert!(lines[2].ends_with("ca-bundle.pem"), "{}", lines[2]);
    let bundle = std::fs::read_to_string(lines[2]).expect("bundle");
    let ca = std::fs::read_to_string(w.s.home().join("ca.pem")).expect("ca");
    assert!(bundle.ends_with(&ca), "the bundle ends with the proxy CA");
    let v: serde_json::Value =
        serde_json::from_str(&w.s.run("macaroon", &["inspect", lines[0], "--json"]).ok().stdout)
            .expect("json");
    let explain = v["caveats"][0]["explain"].as_str().expect("explain");
    assert!(
        explain.starts_with("expires in 14m") || explain.starts_with("expires in 15m"),
        "{explain}"
    );
    assert_eq!(v["caveats"][1]["predicate"], "method in GET");
}

#[test]
fn exec_reports_a_missing_command_like_a_shell() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key")
        .ok();
    std::fs::write(s.home().join("ca.pem"), "").expect("ca");
    // Something listening where the proxy would be (exec checks it answers).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = format!("http://{}", listener.local_addr().expect("addr"));
    let run = s.run(
        "macaroon",
        &[
            "exec",
            "--token",
            "k",
            "--proxy",
            &proxy,
            "--",
            "/nonexistent/tool",
        ],
    );
    run.code(127);
    assert!(
        run.stderr.contains("could not run /nonexistent/tool"),
        "{}",
        run.stderr
    );
    let run = s.run(
        "macaroon",
        &[
            "exec", "--token", "k", "--proxy", &proxy, "--env", "1BAD", "--", "true",
        ],
    );
    run.code(2);
    assert!(
        run.stderr.contains("not an environment variable name"),
        "{}",
        run.stderr
    );
}

#[test]
fn exec_says_how_to_start_a_proxy_that_is_not_running() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key")
        .ok();
    std::fs::write(s.home().join("ca.pem"), "").expect("ca");
    // A port nobody listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let proxy = format!("http://{closed}");
    let run = s.run(
        "macaroon",
        &["exec", "--token", "k", "--proxy", &proxy, "--", "true"],
    );
    run.code(2);
    assert!(
        run.stderr.contains("nothing answers at") && run.stderr.contains("macaroon-proxy run"),
        "{}",
        run.stderr
    );
}

#[test]
fn exec_without_a_proxy_ca_says_how_to_get_one() {
    let s = Session::new();
    s.run("macaroon-proxy", &["keygen"]).ok();
    s.run_stdin("macaroon", &["wrap", "k", "--host", "a.com"], "key")
        .ok();
    let run = s.run("macaroon", &["exec", "--token", "k", "--", "true"]);
    run.code(2);
    assert!(
        run.stderr.contains("run `macaroon-proxy run` once"),
        "{}",
        run.stderr
    );
}

#[test]
fn unmodified_curl_reaches_the_upstream_with_the_real_key() {
    let w = world();
    let run = exec(
        &w,
        &["--token", "api", "--env", "API_KEY"],
        &format!(
            r#"curl -sS -o /dev/null -w '%{{http_code}}' https://{HOST}/v1/charges -H "Authorization: Bearer $API_KEY""#
        ),
    );
    run.ok();
    assert_eq!(run.stdout, "200");
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn unmodified_stripe_sdk_works_through_exec() {
    if let Some(why) = e2e::missing_python(&["stripe"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let script = r#"python3 -c '
import stripe, os
stripe.api_key = os.environ["STRIPE_API_KEY"]
page = stripe.Charge.list(limit=3)
print(len(page.data))
'"#;
    let run = exec(
        &w,
        &[
            "--token",
            "api",
            "--env",
            "STRIPE_API_KEY",
            "--path",
            "/v1/charges",
        ],
        script,
    );
    run.ok();
    assert_eq!(run.out(), "0");
    let seen = w.up.seen();
    assert_eq!(seen[0].target, "/v1/charges?limit=3");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn unmodified_openai_sdk_works_through_exec() {
    if let Some(why) = e2e::missing_python(&["openai"]) {
        return e2e::skip_or_fail(why);
    }
    let w = world_for("api.openai.com", "bearer", &[]);
    let script = r#"python3 -c '
from openai import OpenAI
print(len(OpenAI().models.list().data))
'"#;
    let run = exec(
        &w,
        &["--token", "api", "--env", "OPENAI_API_KEY", "--method", "GET"],
        script,
    );
    run.ok();
    assert_eq!(run.out(), "0");
    let seen = w.up.seen();
    assert_eq!(seen[0].target, "/v1/models");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

/// What a command under exec tries, by every path it could know, to get more than its
/// token: each line it prints starting with `GOT` is a leak.
const PRYING: &str = r#"
H="$1"; D="$2"
for f in "$H"/tokens/* "$H"/proxy.key "$H"/issuer.key "$H"/tokens.json "$D"/secret; do
  cat "$f" >/dev/null 2>&1 && echo "GOT read $f"
done
[ -n "$(ls -A "$H" 2>/dev/null)" ] && echo "GOT list $H"
[ -n "$(ls -A "$D" 2>/dev/null)" ] && echo "GOT list $D"
ls -A "/proc/$PPID/root$H" >/dev/null 2>&1 && echo "GOT /proc/$PPID/root$H"
ls -A "/proc/1/root$H" >/dev/null 2>&1 && echo "GOT /proc/1/root$H"
umount "$H" 2>/dev/null && echo "GOT umount $H"
touch "$H/planted" 2>/dev/null && echo "GOT write $H"
env | grep -q '^MACAROON_HOME=' && echo "GOT MACAROON_HOME"
env | grep -q '^DBUS_SESSION_BUS_ADDRESS=' && echo "GOT DBUS_SESSION_BUS_ADDRESS"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$3" 2>/dev/null && echo "GOT bus $3"
"$4" attenuate other --expires 1h >/dev/null 2>&1 && echo "GOT attenuate other"
curl -sS -o /dev/null -w 'call %{http_code}\n' "https://$5/v1/refunds" -H "Authorization: Bearer $API_KEY"
"#;

/// Runs PRYING under `macaroon exec`, with a second home at `~/.config/macaroon` (HOME is
/// a fresh directory) and a listening "session bus" socket.
fn pry(w: &World, extra: &[&str], env: &[(&str, &str)]) -> e2e::Run {
    w.s.run_stdin(
        "macaroon",
        &["wrap", "other", "--host", HOST, "--force"],
        "sk_other_root",
    )
    .ok();
    let user = tempfile::tempdir().expect("user home");
    let second = user.path().join(".config/macaroon");
    std::fs::create_dir_all(&second).expect("second home");
    std::fs::write(second.join("secret"), "root token").expect("secret");
    let bus = user.path().join("bus");
    let _listener = std::os::unix::net::UnixListener::bind(&bus).expect("bus");
    let macaroon = e2e::bin_dir().join("macaroon");
    let mut cmd = w.s.cmd("macaroon");
    cmd.arg("exec")
        .args(["--token", "api", "--env", "API_KEY", "--method", "GET"])
        .args(extra)
        .args(["--proxy", &w.proxy.url(), "--", "sh", "-c", PRYING, "pry"])
        .arg(w.s.home())
        .arg(&second)
        .arg(&bus)
        .arg(&macaroon)
        .arg(HOST)
        .env("HOME", user.path())
        .env_remove("XDG_CONFIG_HOME")
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", bus.display()));
    for (k, v) in env {
        cmd.env(k, v);
    }
    e2e::Run::from(cmd.output().expect("run exec"))
}

#[test]
fn exec_hides_every_home_and_the_keyring_from_the_command() {
    let w = world();
    // Without isolation the same script reads the other root token and the keys: the
    // checks below can fail.
    let open = pry(&w, &["--no-isolate"], &[]);
    open.ok();
    for leak in ["GOT read", "GOT list", "GOT attenuate other", "GOT bus"] {
        assert!(
            open.stdout.contains(leak),
            "{leak} without isolation:\n{}",
            open.stdout
        );
    }
    std::fs::remove_file(w.s.home().join("planted")).expect("planted without isolation");
    let run = pry(&w, &[], &[]);
    run.ok();
    assert!(!run.stdout.contains("GOT"), "leaks under exec:\n{}", run.stdout);
    // Its own call, with its own narrowed token, still goes through the proxy.
    assert!(run.stdout.contains("call 200"), "{}", run.stdout);
    assert!(
        w.s.home().join("tokens").exists(),
        "the home is untouched outside"
    );
    assert!(!w.s.home().join("planted").exists());
}

#[test]
fn exec_falls_back_to_landlock_where_user_namespaces_are_refused() {
    let w = world();
    let run = pry(&w, &[], &[("MACAROON_EXEC_REFUSE", "userns")]);
    run.ok();
    // Landlock cannot hide a path-named socket; everything else holds.
    let leaks: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("GOT") && !l.starts_with("GOT bus"))
        .collect();
    assert!(leaks.is_empty(), "leaks under Landlock:\n{}", run.stdout);
    assert!(run.stdout.contains("call 200"), "{}", run.stdout);
}

/// A FUSE mount whose daemon died: every stat of it answers ENOTCONN until it is unmounted
/// (which dropping this does).
struct DeadMount(tempfile::TempDir);

impl DeadMount {
    /// Mounts `macaroon mount` in a fresh directory under the temporary directory and kills
    /// it; None (skipped) where FUSE is unavailable.
    fn new(w: &World) -> Option<DeadMount> {
        if !crate::mount::fuse_available() {
            return None;
        }
        let dir = DeadMount(tempfile::tempdir().expect("mountpoint"));
        let mut child =
            w.s.cmd("macaroon")
                .arg("mount")
                .arg(dir.0.path())
                .args(["--token", "api"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn mount");
        crate::mount::wait_until_mounted(&mut child);
        child.kill().expect("kill mount");
        child.wait().expect("wait mount");
        let err = std::fs::metadata(dir.0.path()).expect_err("a dead mount cannot be described");
        assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
        Some(dir)
    }
}

impl Drop for DeadMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("fusermount3")
            .args(["-u", "-z"])
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn landlock_isolation_passes_over_a_dead_fuse_mount_beside_the_home() {
    let w = world();
    let Some(_dead) = DeadMount::new(&w) else {
        return;
    };
    let run = pry(&w, &[], &[("MACAROON_EXEC_REFUSE", "userns")]);
    run.ok();
    assert!(run.stdout.contains("call 200"), "{}", run.stdout);
}

#[test]
fn exec_refuses_when_it_cannot_isolate_and_names_the_escape() {
    let w = world();
    let mut cmd = w.s.cmd("macaroon");
    cmd.args([
        "exec",
        "--token",
        "api",
        "--proxy",
        &w.proxy.url(),
        "--",
        "echo",
        "ran",
    ])
    .env("MACAROON_EXEC_REFUSE", "userns,landlock");
    let run = e2e::Run::from(cmd.output().expect("run exec"));
    run.code(2);
    assert!(!run.stdout.contains("ran"), "the command ran: {}", run.stdout);
    for word in ["user namespaces", "Landlock", "--no-isolate"] {
        assert!(run.stderr.contains(word), "{word}: {}", run.stderr);
    }
    let mut cmd = w.s.cmd("macaroon");
    cmd.args([
        "exec",
        "--no-isolate",
        "--token",
        "api",
        "--proxy",
        &w.proxy.url(),
        "--",
        "echo",
        "ran",
    ])
    .env("MACAROON_EXEC_REFUSE", "userns,landlock");
    let run = e2e::Run::from(cmd.output().expect("run exec"));
    run.ok();
    assert_eq!(run.out(), "ran");
}

#[test]
fn exec_passes_signals_and_the_exit_status_through_isolation() {
    let w = world();
    let mut cmd = w.s.cmd("macaroon");
    cmd.args([
        "exec",
        "--token",
        "api",
        "--proxy",
        &w.proxy.url(),
        "--",
        "sh",
        "-c",
        "kill -TERM $$",
    ]);
    let status = cmd.status().expect("run exec");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "{status:?}");
    let run = exec(&w, &["--token", "api"], "exit 42");
    run.code(42);
}

#[test]
fn exec_warns_that_an_old_node_bypasses_the_proxy() {
    let Ok(out) = std::process::Command::new("node").arg("--version").output() else {
        return e2e::skip_or_fail("node is not installed");
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let w = world();
    // `macaroon exec [FLAGS] --token api -- node -e SCRIPT`: node is the command itself.
    let node = |flags: &[&str], script: &str| {
        let mut cmd = w.s.cmd("macaroon");
        cmd.arg("exec")
            .args(flags)
            .args(["--token", "api", "--proxy", &w.proxy.url()]);
        cmd.args(["--", "node", "-e", script]);
        e2e::Run::from(cmd.output().expect("run exec"))
    };
    let run = node(&[], "console.log(process.env.NODE_USE_ENV_PROXY)");
    run.ok();
    assert_eq!(run.out(), "1");
    let old = version.starts_with("v20.") || version.starts_with("v18.");
    assert_eq!(
        run.stderr.contains("ignores HTTPS_PROXY"),
        old,
        "Node {version}: {}",
        run.stderr
    );
    if old {
        assert!(
            run.stderr.contains("--sandbox"),
            "the warning names the fix: {}",
            run.stderr
        );
    }
    // Under --sandbox every connection goes through the proxy, whatever Node does: no warning.
    if let Some(why) = e2e::missing_tool("iptables", "apt-get install iptables") {
        return e2e::skip_or_fail(why);
    }
    let run = node(&["--sandbox"], "0");
    run.ok();
    assert!(!run.stderr.contains("ignores HTTPS_PROXY"), "{}", run.stderr);
}

/// `macaroon exec --sandbox ARGS -- sh -c SCRIPT` in the world's home.
fn sandboxed(w: &World, args: &[&str], script: &str) -> e2e::Run {
    if let Some(why) = e2e::missing_tool("iptables", "apt-get install iptables") {
        e2e::skip_or_fail(why);
    }
    exec(w, &[&["--sandbox"], args].concat(), script)
}

#[test]
fn node_20_fetch_and_https_get_go_through_the_proxy_under_sandbox() {
    if e2e::missing_tool("node", "apt-get install nodejs").is_some() {
        return e2e::skip_or_fail("node is not installed");
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let script = r#"node -e '
const https = require("https");
const auth = { Authorization: "Bearer " + process.env.STRIPE_API_KEY };
fetch("https://api.stripe.com/v1/charges", { headers: auth })
  .then(r => { console.log("fetch " + r.status);
    https.get("https://api.stripe.com/v1/customers", { headers: auth },
      res => { console.log("https.get " + res.statusCode); res.resume(); });
  })
  .catch(e => { console.log("fetch failed " + e.cause); process.exit(3); });
'"#;
    let run = sandboxed(&w, &["--token", "api", "--env", "STRIPE_API_KEY"], script);
    run.ok();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        ["fetch 200", "https.get 200"],
        "{}",
        run.stderr
    );
    let seen = w.up.seen();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
}

#[test]
fn under_sandbox_nothing_leaves_but_through_the_proxy() {
    let w = world();
    let up_port = w.up.addr.port();
    let script = format!(
        r#"curl -sS --noproxy '*' -o /dev/null -w 'sealed %{{http_code}}\n' https://{HOST}/v1/charges -H "Authorization: Bearer $API_KEY"
curl -sS -o /dev/null -w 'other %{{http_code}}\n' https://{OTHER}/v1/charges -H "Authorization: Bearer $API_KEY"
curl -sS -m 5 -o /dev/null https://1.1.1.1/ 2>/dev/null || echo "raw ip refused"
curl -sS -m 5 -o /dev/null -k https://127.0.0.1:{up_port}/ 2>/dev/null || echo "host loopback refused"
python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("8.8.8.8", 53))' 2>/dev/null || echo "udp refused""#
    );
    let run = sandboxed(&w, &["--token", "api", "--env", "API_KEY"], &script);
    run.ok();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "sealed 200",
            "other 403",
            "raw ip refused",
            "host loopback refused",
            "udp refused"
        ],
        "{}",
        run.stderr
    );
    assert_eq!(w.up.seen().len(), 1, "only the sealed call reached the upstream");
    // Once the audit writer has caught up (lines are written after the answers).
    w.proxy.audit();
    let audit = std::fs::read_to_string(&w.proxy.audit_path).unwrap_or_default();
    let other: Vec<&str> = audit.lines().filter(|l| l.contains(OTHER)).collect();
    assert!(
        other.iter().any(|l| l.contains("\"decision\":\"deny\"")),
        "the refused host is audited: {audit}"
    );
}

#[test]
fn java_httpclient_goes_through_the_proxy_under_plain_exec() {
    if e2e::missing_tool("java", "apt-get install default-jdk-headless").is_some() {
        return e2e::skip_or_fail("java is not installed (apt-get install default-jdk-headless)");
    }
    let w = world_for("api.stripe.com", "bearer", &[]);
    let dir = tempfile::tempdir().expect("dir");
    let agent = dir.path().join("Agent.java");
    std::fs::write(
        &agent,
        r#"import java.net.URI;
import java.net.http.*;
public class Agent {
  public static void main(String[] args) throws Exception {
    var req = HttpRequest.newBuilder(URI.create("https://api.stripe.com/v1/charges"))
        .header("Authorization", "Bearer " + System.getenv("STRIPE_API_KEY")).build();
    var res = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString());
    System.out.println("java " + res.statusCode());
  }
}
"#,
    )
    .expect("agent");
    let run = exec(
        &w,
        &["--token", "api", "--env", "STRIPE_API_KEY"],
        &format!("java {}", agent.display()),
    );
    run.ok();
    assert_eq!(run.out(), "java 200", "{}", run.stderr);
    assert_eq!(
        w.up.seen()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[test]
fn under_sandbox_many_connections_run_at_once_and_the_status_passes_through() {
    let w = world();
    let script = format!(
        r#"for i in $(seq 1 32); do
  curl -sS -o /dev/null -w '%{{http_code}}\n' https://{HOST}/v1/charges/$i -H "Authorization: Bearer $API_KEY" > out.$i &
done
wait
cat out.* | sort | uniq -c | awk '{{print $1, $2}}'
curl -sS -o /dev/null -w '%{{size_download}}\n' https://{HOST}/big -H "Authorization: Bearer $API_KEY"
exit 9"#
    );
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = w.s.cmd("macaroon");
    cmd.args([
        "exec",
        "--sandbox",
        "--token",
        "api",
        "--env",
        "API_KEY",
        "--proxy",
        &w.proxy.url(),
    ])
    .args(["--", "sh", "-c", &script])
    .current_dir(dir.path());
    let run = e2e::Run::from(cmd.output().expect("run exec"));
    run.code(9);
    let big = e2e::upstream::big_body().len();
    assert_eq!(run.out(), format!("32 200\n{big}"), "{}", run.stderr);
    assert_eq!(w.up.seen().len(), 33);
    let mut cmd = w.s.cmd("macaroon");
    cmd.args(["exec", "--sandbox", "--token", "api", "--proxy", &w.proxy.url()])
        .args(["--", "sh", "-c", "kill -TERM $$"]);
    let status = cmd.status().expect("run exec");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
}

#[test]
fn allow_direct_hosts_bypass_the_proxy_and_say_so() {
    let w = world();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut &conn, b"hello");
        }
    });
    // A program that resolves through DNS (not /etc/hosts) gets the stand-in address.
    let script = format!(
        r#"python3 -c '
import socket, struct
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x09localhost\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); s.sendto(q, ("127.0.0.53", 53))
addr = socket.inet_ntoa(s.recv(512)[-4:])
c = socket.create_connection((addr, {port}), timeout=3)
try:
    print(addr.startswith("127.77."), c.recv(16).decode() or "closed")
except socket.timeout:
    print(addr.startswith("127.77."), "no answer")
'"#
    );
    let run = sandboxed(&w, &["--token", "api", "--allow-direct", "localhost"], &script);
    run.ok();
    assert_eq!(run.out(), "True hello", "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("localhost:{port} reached directly")),
        "{}",
        run.stderr
    );
    let run = sandboxed(&w, &["--token", "api"], &script);
    assert!(
        !run.stdout.contains("hello"),
        "without --allow-direct: {}",
        run.stdout
    );
}

/// The operator's admin API token and URL never reach the command, isolated or not.
#[test]
fn exec_never_passes_the_operator_token_or_admin_url() {
    let w = world();
    for extra in [&[][..], &["--no-isolate"][..]] {
        let mut cmd = w.s.cmd("macaroon");
        cmd.arg("exec")
            .args(["--token", "api"])
            .args(extra)
            .args(["--proxy", &w.proxy.url(), "--", "sh", "-c"])
            .arg(r#"echo "op=${MACAROON_OPERATOR_TOKEN:-none} url=${MACAROON_ADMIN_URL:-none}""#)
            .env("MACAROON_OPERATOR_TOKEN", "op-token-text")
            .env("MACAROON_ADMIN_URL", "http://127.0.0.1:9");
        let run = e2e::Run::from(cmd.output().expect("run exec"));
        run.ok();
        assert_eq!(run.out(), "op=none url=none", "{extra:?}");
    }
}
