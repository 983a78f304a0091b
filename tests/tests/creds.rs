//! Credentials that are not one static key, with real clients and real verifiers: boto3
//! through `macaroon exec --aws` against an AWS stand-in that checks every signature with
//! botocore's own signer and the real key; OAuth2 clients against a token endpoint and a
//! resource server that accept only the access tokens it issued.

use std::path::PathBuf;

use e2e::standin::StandIn;
use e2e::{ProxyProcess, Run, Session};

fn standin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("standins")
        .join(name)
}

mod aws {
    use super::*;

    pub const AKID: &str = "AKIAMACAROONE2E7EXAMPLE";
    pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYMACAROONKEY";
    pub const SESSION: &str = "FwoGZXIvYXdzEMacaroonRealSessionToken0123456789";
    pub const S3_HOST: &str = "demo-bucket.s3.amazonaws.com";
    pub const STS_HOST: &str = "sts.us-east-1.amazonaws.com";

    /// A proxy, an AWS stand-in holding the real key, and two wrapped tokens (s3, sts).
    pub struct Aws {
        pub s: Session,
        pub stand_in: StandIn,
        pub proxy: ProxyProcess,
    }

    pub fn start() -> Option<Aws> {
        if let Some(why) = e2e::missing_python(&["boto3", "botocore"]) {
            e2e::skip_or_fail(why);
            return None;
        }
        let s = Session::new();
        s.run("macaroon-proxy", &["keygen"]).ok();
        let keys = format!(
            r#"{{"access_key_id":"{AKID}","secret_access_key":"{SECRET_KEY}","session_token":"{SESSION}"}}"#
        );
        for (name, host, rule) in [
            ("s3", S3_HOST, "sigv4:us-east-1:s3"),
            ("sts", STS_HOST, "sigv4:us-east-1:sts"),
        ] {
            s.run_stdin(
                "macaroon",
                &["wrap", name, "--host", host, "--inject", rule],
                &keys,
            )
            .ok();
        }
        let stand_in = StandIn::start(
            &standin("aws.py"),
            &[S3_HOST, STS_HOST],
            &["--akid", AKID, "--secret", SECRET_KEY, "--session-token", SESSION],
        );
        let proxy = s.start_proxy_at(&stand_in.tls.ca, stand_in.addr, &[S3_HOST, STS_HOST], &[]);
        Some(Aws { s, stand_in, proxy })
    }

    impl Aws {
        /// `macaroon exec --aws --token NAME -- python3 boto3_client.py MODE`.
        pub fn boto3(&self, token: &str, mode: &str) -> Run {
            let mut cmd = self.s.cmd("macaroon");
            cmd.args([
                "exec",
                "--aws",
                "--token",
                token,
                "--proxy",
                &self.proxy.url(),
                "--",
            ])
            .arg("python3")
            .arg(standin("boto3_client.py"))
            .arg(mode)
            // Whatever the machine has, the program sees only what exec gives it.
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
            Run::from(cmd.output().expect("run boto3 through exec"))
        }

        /// No secret part of the keys in the audit log or on the proxy's stderr.
        pub fn assert_clean(&self) {
            let audit = std::fs::read_to_string(&self.proxy.audit_path).unwrap_or_default();
            for secret in [SECRET_KEY, SESSION] {
                assert!(!audit.contains(secret), "a secret in the audit log");
                assert!(!self.proxy.stderr().contains(secret), "a secret on stderr");
            }
        }
    }
}

#[test]
fn boto3_lists_and_puts_s3_objects_signed_by_the_proxy() {
    let Some(w) = aws::start() else { return };
    let run = w.boto3("s3", "s3");
    run.ok();
    let got: serde_json::Value = serde_json::from_str(run.out()).expect("boto3 printed JSON");
    assert_eq!(got["before"], 0);
    assert_eq!(got["after"], serde_json::json!([["reports/q3.txt", 16]]));
    let log = w.stand_in.log();
    assert_eq!(log.matches("VERIFIED").count(), 3, "{log}");
    assert!(!log.contains("REJECTED"), "{log}");
    assert!(
        log.contains("VERIFIED PUT demo-bucket.s3.amazonaws.com /reports/q3.txt"),
        "{log}"
    );
    w.assert_clean();
}

#[test]
fn boto3_sts_get_caller_identity_is_signed_with_the_real_key() {
    let Some(w) = aws::start() else { return };
    let run = w.boto3("sts", "sts");
    run.ok();
    let got: serde_json::Value = serde_json::from_str(run.out()).expect("boto3 printed JSON");
    assert_eq!(got["arn"], "arn:aws:iam::123456789012:user/macaroon-e2e");
    // The stand-in echoed the session token and the secret key in headers: boto3 saw stars.
    for (header, secret) in [
        ("x-echo-session-token", aws::SESSION),
        ("x-echo-secret", aws::SECRET_KEY),
    ] {
        let seen = got["headers"][header].as_str().expect("echoed header");
        assert_eq!(seen, "*".repeat(secret.len()), "{header}");
    }
    assert!(!run.stdout.contains(aws::SESSION) && !run.stdout.contains(aws::SECRET_KEY));
    let log = w.stand_in.log();
    assert_eq!(
        log.matches("VERIFIED POST sts.us-east-1.amazonaws.com").count(),
        1,
        "{log}"
    );
    w.assert_clean();
}

#[test]
fn the_aws_stand_in_refuses_what_the_proxy_did_not_sign() {
    // The verifier is real: the client's own dummy signature, sent straight to it, fails.
    let Some(w) = aws::start() else { return };
    if let Some(why) = e2e::missing_tool("curl", "install curl") {
        return e2e::skip_or_fail(why);
    }
    let ca = w.stand_in.tls.ca.display().to_string();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert", &ca, "--connect-to"])
        .arg(format!("{}:443:{}", aws::STS_HOST, w.stand_in.addr))
        .args(["-H", "Authorization: AWS4-HMAC-SHA256 Credential=MACAROON/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000"])
        .args(["-H", "X-Amz-Date: 20260101T000000Z", "--data", "Action=GetCallerIdentity&Version=2011-06-15"])
        .arg(format!("https://{}/", aws::STS_HOST))
        .output()
        .expect("curl");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    assert!(w.stand_in.log().contains("REJECTED"), "{}", w.stand_in.log());
}

#[test]
fn an_s3_token_cannot_sign_for_sts() {
    let Some(w) = aws::start() else { return };
    let mut cmd = w.s.cmd("macaroon");
    cmd.args(["exec", "--aws", "--token", "s3", "--proxy", &w.proxy.url(), "--"])
        .arg("python3")
        .arg(standin("boto3_client.py"))
        .arg("sts");
    // The s3 token used for STS: the host is not sealed, so the proxy refuses (403).
    let run = Run::from(cmd.output().expect("run"));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("403") || run.stderr.contains("host_not_sealed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        w.stand_in.log().matches("VERIFIED").count(),
        0,
        "{}",
        w.stand_in.log()
    );
    assert!(!w.stand_in.log().contains("REJECTED"), "nothing reached it");
}

mod oauth {
    use super::*;

    pub const API: &str = "api.example.test";
    pub const IDP: &str = "oauth.example.test";
    pub const CLIENT_ID: &str = "e2e-client.apps.example";
    pub const CLIENT_SECRET: &str = "GOCSPX-macaroon-e2e-client-secret";
    pub const REFRESH: &str = "1//e2e-sealed-refresh-token-0123456789";

    /// A proxy, an OAuth2 provider stand-in, and a wrapped credential (`google`).
    pub struct OAuth {
        pub s: Session,
        pub provider: StandIn,
        pub proxy: ProxyProcess,
        /// The refresh token sealed, if the grant has one.
        pub sealed_refresh: Option<&'static str>,
    }

    pub fn start(rule: &str) -> Option<OAuth> {
        start_with(rule, &[])
    }

    /// Like [`start`], with extra `run` flags.
    pub fn start_with(rule: &str, extra: &[&str]) -> Option<OAuth> {
        if let Some(why) = e2e::missing_python(&["google.auth", "requests"]) {
            e2e::skip_or_fail(why.replace("pip install google.auth", "pip install google-auth"));
            return None;
        }
        if let Some(why) = e2e::missing_tool("curl", "install curl") {
            e2e::skip_or_fail(why);
            return None;
        }
        let s = Session::new();
        s.run("macaroon-proxy", &["keygen"]).ok();
        let json = if rule == "oauth2-refresh" {
            format!(
                r#"{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}","refresh_token":"{REFRESH}"}}"#
            )
        } else {
            format!(r#"{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}"}}"#)
        };
        let token_url = format!("https://{IDP}/token");
        s.run_stdin(
            "macaroon",
            &[
                "wrap",
                "google",
                "--host",
                API,
                "--inject",
                rule,
                "--token-url",
                &token_url,
            ],
            &json,
        )
        .ok();
        let provider = StandIn::start(
            &standin("oauth.py"),
            &[API, IDP],
            &[
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--refresh-token",
                REFRESH,
            ],
        );
        let proxy = s.start_proxy_at(&provider.tls.ca, provider.addr, &[API, IDP], extra);
        let sealed_refresh = (rule == "oauth2-refresh").then_some(REFRESH);
        Some(OAuth {
            s,
            provider,
            proxy,
            sealed_refresh,
        })
    }

    impl OAuth {
        /// Asks the provider directly (not through the proxy): `/_stats`, `/_control?...`.
        pub fn provider(&self, target: &str) -> serde_json::Value {
            let out = std::process::Command::new("curl")
                .args(["-sS", "--max-time", "30", "--cacert"])
                .arg(&self.provider.tls.ca)
                .arg("--connect-to")
                .arg(format!("{IDP}:443:{}", self.provider.addr))
                .arg(format!("https://{IDP}{target}"))
                .env_remove("HTTPS_PROXY")
                .env_remove("https_proxy")
                .output()
                .expect("curl");
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{target}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
        }

        /// The client program through `macaroon exec`: every response it got.
        pub fn client(&self, mode: &str, n: usize) -> Vec<serde_json::Value> {
            let mut cmd = self.s.cmd("macaroon");
            cmd.args(["exec", "--token", "google", "--proxy", &self.proxy.url(), "--"])
                .arg("python3")
                .arg(standin("oauth_client.py"))
                .args([mode, &n.to_string()]);
            let run = Run::from(cmd.output().expect("run the client"));
            run.ok();
            serde_json::from_str(run.out()).expect("the client printed JSON")
        }

        /// The client program, started and left running.
        pub fn spawn_client(&self, mode: &str, n: usize) -> std::process::Child {
            self.spawn_client_via(&self.proxy, mode, n)
        }

        /// The client program through `proxy` (another replica), started and left running.
        pub fn spawn_client_via(&self, proxy: &ProxyProcess, mode: &str, n: usize) -> std::process::Child {
            let mut cmd = self.s.cmd("macaroon");
            cmd.args(["exec", "--token", "google", "--proxy", &proxy.url(), "--"])
                .arg("python3")
                .arg(standin("oauth_client.py"))
                .args([mode, &n.to_string()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().expect("spawn the client")
        }

        /// Waits until the proxy has decided `n` requests (its verify-cache counters, read
        /// from /metrics), up to a minute; returns how many it had.
        pub fn wait_for_decisions(&self, n: u64) -> u64 {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let out = std::process::Command::new("curl")
                    .args(["-sS", "--max-time", "5"])
                    .arg(format!("http://{}/metrics", self.proxy.admin))
                    .output()
                    .expect("curl");
                let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
                let decided: u64 = metrics
                    .lines()
                    .filter(|l| l.starts_with("macaroon_verify_cache_"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                    .sum();
                if decided >= n {
                    return decided;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "only {decided} of {n} requests reached the proxy's decision"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }

        pub fn exchanges(&self) -> u64 {
            self.provider("/_stats")["exchanges"].as_u64().expect("count")
        }

        /// No response the client saw, no audit line and no proxy log line carried the
        /// client secret, a refresh token or an access token the provider issued.
        pub fn assert_nothing_leaked(&self, responses: &[serde_json::Value]) {
            let stats = self.provider("/_stats");
            let mut secrets: Vec<String> = vec![CLIENT_SECRET.into()];
            secrets.extend(self.sealed_refresh.map(String::from));
            for list in ["issued_access", "issued_refresh"] {
                for t in stats[list].as_array().expect("list") {
                    secrets.push(t.as_str().expect("token").to_string());
                }
            }
            let seen = serde_json::to_string(responses).expect("json");
            let audit = std::fs::read_to_string(&self.proxy.audit_path).unwrap_or_default();
            for secret in &secrets {
                assert!(
                    !seen.contains(secret.as_str()),
                    "a response carried a provider secret"
                );
                assert!(
                    !audit.contains(secret.as_str()),
                    "the audit log holds a provider secret"
                );
                assert!(
                    !self.proxy.stderr().contains(secret.as_str()),
                    "stderr holds a provider secret"
                );
            }
        }
    }

    /// Every response is a 200 whose echoed token was scrubbed.
    pub fn all_ok_and_scrubbed(responses: &[serde_json::Value]) {
        for r in responses {
            assert_eq!(r["status"], 200, "{r}");
            let body: serde_json::Value =
                serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
            let echoed = body["token_seen"].as_str().expect("echo");
            assert!(!echoed.is_empty() && echoed.chars().all(|c| c == '*'), "{echoed}");
            let debug = r["headers"]
                .as_object()
                .expect("headers")
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-debug-token"))
                .and_then(|(_, v)| v.as_str())
                .expect("the echoed header");
            assert!(debug.chars().all(|c| c == '*'), "{debug}");
        }
    }
}

#[test]
fn oauth2_fifty_requests_make_one_exchange_and_no_response_carries_a_token() {
    let Some(w) = oauth::start("oauth2-refresh") else {
        return;
    };
    let responses = w.client("seq", 50);
    assert_eq!(responses.len(), 50);
    oauth::all_ok_and_scrubbed(&responses);
    assert_eq!(w.exchanges(), 1, "one exchange for 50 requests");
    eprintln!("50 sequential requests: {} exchange", w.exchanges());
    let stats = w.provider("/_stats");
    assert_eq!(stats["resource_ok"], 50);
    assert_eq!(stats["refresh_tokens_used"], serde_json::json!([oauth::REFRESH]));
    w.assert_nothing_leaked(&responses);
}

/// The responses a spawned client printed.
fn responses_of(client: std::process::Child) -> Vec<serde_json::Value> {
    let run = Run::from(client.wait_with_output().expect("client"));
    run.ok();
    serde_json::from_str(run.out()).expect("the client printed JSON")
}

/// A real redis-server, an OAuth2 world whose proxy uses it as `--state`, and a second
/// replica of that proxy on the same store.
fn oauth2_replicas() -> Option<(e2e::redis::RedisServer, oauth::OAuth, ProxyProcess)> {
    let redis = e2e::redis::RedisServer::start_or_skip()?;
    let url = redis.url();
    let w = oauth::start_with("oauth2-refresh", &["--state", &url])?;
    let second = w.s.start_proxy_at(
        &w.provider.tls.ca,
        w.provider.addr,
        &[oauth::API, oauth::IDP],
        &["--state", &url],
    );
    Some((redis, w, second))
}

#[test]
fn oauth2_replicas_sharing_state_make_one_exchange_between_them() {
    let Some((redis, w, second)) = oauth2_replicas() else {
        return;
    };
    // Both replicas at once, ten concurrent requests each: one takes the lock and
    // exchanges, the other waits for the token it stores.
    let a = w.spawn_client("par", 10);
    let b = w.spawn_client_via(&second, "par", 10);
    let mut responses = responses_of(a);
    responses.extend(responses_of(b));
    assert_eq!(responses.len(), 20);
    oauth::all_ok_and_scrubbed(&responses);
    assert_eq!(w.exchanges(), 1, "one exchange for two replicas");
    // Later requests on either replica use the shared token too.
    responses.extend(responses_of(w.spawn_client_via(&second, "seq", 5)));
    responses.extend(responses_of(w.spawn_client("seq", 5)));
    assert_eq!(w.exchanges(), 1);
    eprintln!("two replicas, 30 requests: {} exchange", w.exchanges());
    // What the store holds is sealed: no token the provider issued appears in it.
    let dump = redis.cli(&["--scan", "--pattern", "macaroon:oauth:*"]);
    assert!(dump.contains(":access"), "{dump}");
    let stats = w.provider("/_stats");
    for key in dump.lines() {
        let value = redis.cli(&["GET", key]);
        for t in stats["issued_access"].as_array().expect("list") {
            assert!(
                !value.contains(t.as_str().expect("token")),
                "a token in the clear in {key}"
            );
        }
    }
    w.assert_nothing_leaked(&responses);
}

#[test]
fn oauth2_replicas_share_the_refresh_token_the_provider_rotated() {
    let Some((_redis, w, second)) = oauth2_replicas() else {
        return;
    };
    // A provider that replaces the refresh token on every use (the old one refused from
    // then on) and tokens that expire at once: each exchange, on either replica, must use
    // the refresh token the last exchange got, whichever replica made it.
    w.provider("/_control?expires_in=0&rotate=1");
    let mut responses = Vec::new();
    for (i, p) in [&w.proxy, &second, &w.proxy, &second].into_iter().enumerate() {
        let got = responses_of(w.spawn_client_via(p, "seq", 1));
        oauth::all_ok_and_scrubbed(&got);
        assert_eq!(w.exchanges(), 1 + i as u64);
        responses.extend(got);
    }
    let stats = w.provider("/_stats");
    let used = stats["refresh_tokens_used"].as_array().expect("used").clone();
    let issued = stats["issued_refresh"].as_array().expect("issued").clone();
    assert_eq!(used[0], oauth::REFRESH);
    assert_eq!(
        used[1..],
        issued[..3],
        "each replica's exchange used the refresh token the other's had rotated"
    );
    w.assert_nothing_leaked(&responses);
}

#[test]
fn oauth2_twenty_concurrent_requests_wait_for_one_exchange() {
    let Some(w) = oauth::start("oauth2-refresh") else {
        return;
    };
    // The token endpoint holds every exchange until told to go on; meanwhile all 20
    // requests reach the proxy's decision (counted in /metrics), so all 20 are waiting
    // when the one exchange ends. No timing is assumed.
    w.provider("/_control?hold=1");
    let client = w.spawn_client("par", 20);
    let decided = w.wait_for_decisions(20);
    w.provider("/_control?release=1");
    let out = client.wait_with_output().expect("client");
    let run = Run::from(out);
    run.ok();
    let responses: Vec<serde_json::Value> = serde_json::from_str(run.out()).expect("the client printed JSON");
    assert_eq!(responses.len(), 20);
    oauth::all_ok_and_scrubbed(&responses);
    assert_eq!(w.exchanges(), 1, "single flight under 20 concurrent requests");
    eprintln!(
        "single flight: {decided} requests waiting on the held exchange, {} exchange",
        w.exchanges()
    );
    w.assert_nothing_leaked(&responses);
}

#[test]
fn oauth2_an_expired_token_is_refreshed_with_the_rotated_refresh_token() {
    let Some(w) = oauth::start("oauth2-refresh") else {
        return;
    };
    // Tokens that expire at once, and a refresh token replaced on every use (the old one
    // refused from then on): only a proxy that keeps the rotated one keeps working.
    w.provider("/_control?expires_in=0&rotate=1");
    let responses = w.client("seq", 3);
    oauth::all_ok_and_scrubbed(&responses);
    assert_eq!(w.exchanges(), 3, "each expired token was replaced");
    let stats = w.provider("/_stats");
    let used = stats["refresh_tokens_used"].as_array().expect("used").clone();
    let issued = stats["issued_refresh"].as_array().expect("issued").clone();
    assert_eq!(used[0], oauth::REFRESH);
    assert_eq!(
        used[1..],
        issued[..2],
        "each exchange used the refresh token rotated by the last"
    );
    // Long-lived tokens again: one more exchange, then the cache serves.
    w.provider("/_control?expires_in=3600");
    let more = w.client("seq", 5);
    oauth::all_ok_and_scrubbed(&more);
    assert_eq!(w.exchanges(), 4);
    let mut all = responses;
    all.extend(more);
    w.assert_nothing_leaked(&all);
}

#[test]
fn oauth2_a_refused_access_token_is_refreshed_once_and_the_request_retried() {
    let Some(w) = oauth::start("oauth2-refresh") else {
        return;
    };
    let first = w.client("seq", 1);
    oauth::all_ok_and_scrubbed(&first);
    // The provider revokes every access token (the cached one still looks fresh).
    w.provider("/_control?revoke=1");
    let after = w.client("seq", 3);
    oauth::all_ok_and_scrubbed(&after);
    let stats = w.provider("/_stats");
    assert_eq!(stats["exchanges"], 2, "one refresh after the 401");
    assert_eq!(
        stats["resource_401"], 1,
        "one request saw the 401, and was retried"
    );
    assert_eq!(stats["resource_ok"], 4);
}

#[test]
fn oauth2_a_401_on_another_replica_refreshes_with_the_rotated_token_under_the_shared_lock() {
    let Some((_redis, w, second)) = oauth2_replicas() else {
        return;
    };
    // A provider that rotates refresh tokens (an old one refused from then on).
    w.provider("/_control?rotate=1");
    let mut responses = responses_of(w.spawn_client("seq", 1));
    assert_eq!(w.exchanges(), 1);
    // The access token the first replica shared is revoked; the second replica adopts it,
    // is refused (401), and must refresh with the refresh token the first one's exchange
    // rotated, not the sealed one the provider has retired.
    w.provider("/_control?revoke=1");
    let after = responses_of(w.spawn_client_via(&second, "seq", 3));
    oauth::all_ok_and_scrubbed(&after);
    responses.extend(after);
    let stats = w.provider("/_stats");
    assert_eq!(stats["exchanges"], 2, "{stats}");
    let used = stats["refresh_tokens_used"].as_array().expect("used").clone();
    let issued = stats["issued_refresh"].as_array().expect("issued").clone();
    assert_eq!(used[0], oauth::REFRESH);
    assert_eq!(
        used[1], issued[0],
        "the 401's refresh used the rotated refresh token"
    );
    // And the first replica takes the new shared token: no third exchange.
    responses.extend(responses_of(w.spawn_client("seq", 2)));
    assert_eq!(w.exchanges(), 2);
    w.assert_nothing_leaked(&responses);
}

#[test]
fn oauth2_a_failed_exchange_is_a_502_with_the_provider_code_and_never_its_body() {
    let Some(w) = oauth::start("oauth2-refresh") else {
        return;
    };
    // The provider's error description quotes the refresh token it was sent.
    w.provider("/_control?fail=invalid_grant");
    let responses = w.client("seq", 1);
    let r = &responses[0];
    assert_eq!(r["status"], 502, "{r}");
    let body: serde_json::Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "credential_exchange_failed");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("invalid_grant") && message.contains(oauth::IDP),
        "{message}"
    );
    assert!(
        !message.contains("is not valid"),
        "the provider's body was repeated: {message}"
    );
    w.assert_nothing_leaked(&responses);
    let audit = w.proxy.audit();
    let line = audit.last().expect("audit line");
    assert_eq!(line["status"], 502, "{line}");
    assert_eq!(
        w.provider("/_stats")["resource_ok"],
        0,
        "nothing reached the resource"
    );
}

#[test]
fn oauth2_a_token_endpoint_outside_allow_host_is_never_called() {
    // The operator allows the API but not the token endpoint: the token endpoint is a host
    // the proxy would send the refresh token to, so the request is refused before it.
    let Some(w) = oauth::start_with("oauth2-refresh", &["--allow-host", oauth::API]) else {
        return;
    };
    let responses = w.client("seq", 1);
    assert_eq!(responses[0]["status"], 403, "{}", responses[0]);
    let body = responses[0]["body"].as_str().expect("body");
    assert!(
        body.contains("host_not_allowed") && body.contains(oauth::IDP),
        "{body}"
    );
    assert_eq!(w.exchanges(), 0);
}

#[test]
fn oauth2_client_credentials_grant_is_exchanged_and_cached() {
    let Some(w) = oauth::start("oauth2-client-credentials") else {
        return;
    };
    let responses = w.client("seq", 10);
    oauth::all_ok_and_scrubbed(&responses);
    let stats = w.provider("/_stats");
    assert_eq!(stats["exchanges"], 1);
    assert_eq!(stats["grants"], serde_json::json!(["client_credentials"]));
    w.assert_nothing_leaked(&responses);
}

mod wrap {
    use super::*;

    pub fn home() -> Session {
        let s = Session::new();
        s.run("macaroon-proxy", &["keygen"]).ok();
        s
    }

    pub const GOOGLE: &str = "https://oauth2.googleapis.com/token";
}

#[test]
fn wrap_names_missing_and_unknown_fields_and_never_echoes_a_value() {
    let s = wrap::home();
    let oauth = |json: &str| {
        s.run_stdin(
            "macaroon",
            &[
                "wrap",
                "gmail",
                "--host",
                "gmail.googleapis.com",
                "--inject",
                "oauth2-refresh",
                "--token-url",
                wrap::GOOGLE,
            ],
            json,
        )
    };
    let run = oauth(r#"{"client_id":"c","client_secret":"s"}"#);
    run.code(2);
    assert!(
        run.stderr.contains("missing field `refresh_token`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#""refresh_token""#),
        "the expected shape: {}",
        run.stderr
    );
    let run = oauth(r#"{"client_id":"c","refresh_token":"1//rt_do_not_echo","refersh":"typo_value_77"}"#);
    run.code(2);
    assert!(run.stderr.contains("unknown field `refersh`"), "{}", run.stderr);
    assert!(!run.stderr.contains("typo_value_77") && !run.stderr.contains("rt_do_not_echo"));
    let run = oauth(r#""1//a_bare_refresh_token""#);
    run.code(2);
    assert!(!run.stderr.contains("a_bare_refresh_token"), "{}", run.stderr);
    let run = s.run_stdin(
        "macaroon",
        &[
            "wrap",
            "aws",
            "--host",
            "s3.amazonaws.com",
            "--inject",
            "sigv4:us-east-1:s3",
        ],
        r#"{"access_key_id":"AKIAX","secret_access_key":"wJal_secret_value","region":"x"}"#,
    );
    run.code(2);
    assert!(run.stderr.contains("unknown field `region`"), "{}", run.stderr);
    assert!(!run.stderr.contains("wJal_secret_value"));
    // Nothing was stored by any of these.
    assert!(s
        .run("macaroon", &["list"])
        .ok()
        .stderr
        .contains("No stored tokens"));
}

#[test]
fn wrap_refuses_a_cleartext_token_url_and_a_token_url_without_oauth() {
    let s = wrap::home();
    let json = r#"{"client_id":"c","refresh_token":"r"}"#;
    let gmail = "gmail.googleapis.com";
    let oauth = ["--inject", "oauth2-refresh"];
    let cleartext = ["--token-url", "http://oauth2.googleapis.com/token"];
    for (host, flags, input, says) in [
        (gmail, [&oauth[..], &cleartext[..]].concat(), json, "https"),
        (gmail, oauth.to_vec(), json, "needs --token-url"),
        (
            "api.stripe.com",
            vec!["--token-url", wrap::GOOGLE],
            "sk_live_x",
            "--token-url is for",
        ),
    ] {
        let mut args = vec!["wrap", "g", "--host", host];
        args.extend(flags);
        let run = s.run_stdin("macaroon", &args, input);
        run.code(2);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
}

#[test]
fn inspect_and_list_show_the_injection_kind_not_the_secret() {
    let s = wrap::home();
    s.run_stdin(
        "macaroon",
        &[
            "wrap",
            "aws",
            "--host",
            "s3.amazonaws.com",
            "--inject",
            "sigv4:eu-west-1:s3",
        ],
        r#"{"access_key_id":"AKIAINSPECT","secret_access_key":"inspect_secret_key_value"}"#,
    )
    .ok();
    s.run_stdin(
        "macaroon",
        &[
            "wrap",
            "gmail",
            "--host",
            "gmail.googleapis.com",
            "--inject",
            "oauth2-refresh",
            "--token-url",
            wrap::GOOGLE,
        ],
        r#"{"client_id":"cid","client_secret":"inspect_client_secret","refresh_token":"1//inspect_rt"}"#,
    )
    .ok();
    let table = s.run("macaroon", &["inspect", "aws"]).ok().stdout.clone();
    assert!(table.contains("sigv4:eu-west-1:s3"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&s.run("macaroon", &["inspect", "gmail", "--json"]).ok().stdout).expect("json");
    assert_eq!(json["inject"], "oauth2-refresh");
    let list = s.run("macaroon", &["list"]).ok().stdout.clone();
    for secret in [
        "inspect_secret_key_value",
        "AKIAINSPECT",
        "inspect_client_secret",
        "1//inspect_rt",
    ] {
        assert!(!table.contains(secret) && !json.to_string().contains(secret) && !list.contains(secret));
    }
}

#[test]
fn exec_aws_hands_out_dummy_keys_and_the_token_as_session_token() {
    let s = wrap::home();
    s.run_stdin(
        "macaroon",
        &[
            "wrap",
            "aws",
            "--host",
            "s3.amazonaws.com",
            "--inject",
            "sigv4:us-east-1:s3",
        ],
        r#"{"access_key_id":"AKIAREALKEYID","secret_access_key":"real_secret_never_in_env"}"#,
    )
    .ok();
    std::fs::write(s.home().join("ca.pem"), "").expect("ca");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = format!("http://{}", listener.local_addr().expect("addr"));
    let run = s.run(
        "macaroon",
        &[
            "exec", "--aws", "--token", "aws", "--proxy", &proxy, "--", "sh", "-c",
            r#"printf '%s\n%s\n%s\n%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$MACAROON_TOKEN""#,
        ],
    );
    run.ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "MACAROON");
    assert!(!lines[1].is_empty() && !run.stdout.contains("real_secret_never_in_env"));
    assert!(!run.stdout.contains("AKIAREALKEYID"));
    assert_eq!(lines[2], lines[3], "the session token is the fresh token");
    assert!(lines[2].len() > 100, "a token: {}", lines[2]);
}
