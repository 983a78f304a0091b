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
