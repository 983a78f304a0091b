//! Regression tests for problems found while fuzzing this crate (see fuzz/README.md).
//! Each test calls the public API with the exact input that showed the problem.

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use caveat::{
    decide, Caveat, Host, Injection, Method, MintRequest, ProxyKeyPair, Request, RequestPath, Secret, Token,
    MAX_TOKEN_LEN,
};

/// Runs the calling test's body in a child process, so that a stack overflow (which
/// aborts the whole process rather than panicking) fails only this test.
/// Returns true in the child, where the caller runs the body.
fn in_child_process(test_name: &str) -> bool {
    const CHILD: &str = "CAVEAT_FUZZ_REGRESSION_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child process for {test_name} died ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Found by: token_decode target (confirmed with a `cargo fuzz run --dev` build:
/// "AddressSanitizer: stack-overflow" in `macaroon::serialization::v1::deserialize_as_packets`).
///
/// Bug (in the `macaroon` 0.3.0 dependency, reached through `Token::decode`): the V1 reader
/// recurses once per packet (`deserialize_as_packets(&data[size..], packets)`, v1.rs:109).
/// A V1 packet can be 6 bytes ("0006 x": 4 hex length digits, empty key, space, one byte),
/// so a token of `MAX_TOKEN_LEN` base64 characters is 8192 packets deep. Unoptimized builds
/// overflow a 2 MiB stack (tokio's default worker stack, and Rust's default thread stack)
/// after ~1300 packets (a ~10 KB header) and even the 8 MiB main thread before ~6000; the
/// process aborts (stack overflow is not a panic). The proxy decodes every
/// token-shaped header value before authenticating anything, so in such a build any client
/// can kill the proxy with one request. Optimized builds happen to survive only because
/// LLVM turns this tail call into a loop, which nothing guarantees.
///
/// Base64 of "0006 x" is "MDAwNiB4" (6 bytes -> 8 characters, no padding), so the token
/// is that string repeated 8192 times: exactly `MAX_TOKEN_LEN` characters.
#[test]
fn v1_token_of_many_tiny_packets_does_not_overflow_the_stack() {
    if !in_child_process("v1_token_of_many_tiny_packets_does_not_overflow_the_stack") {
        return;
    }
    let token = "MDAwNiB4".repeat(8192);
    assert_eq!(token.len(), MAX_TOKEN_LEN);
    // Decode where the proxy does: on a thread with tokio's default 2 MiB stack.
    let decoded = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || Token::decode(&token).is_ok())
        .expect("spawn")
        .join()
        .expect("decode thread");
    assert!(!decoded, "packets with an empty key are not a macaroon");
}

/// Found by: decide target (input below, run by the harness: "libFuzzer: timeout after
/// 11 seconds" with -timeout=10).
///
/// Bug: `PathGlob::matches` (path.rs, `glob_match`) backtracks over every way of
/// splitting the path among the `**` segments: with k `**` and n path segments a
/// non-matching glob costs about C(n + k, k) calls. Anyone holding any token can attenuate
/// it offline with this ~60-byte caveat and send a ~80-byte path: the signature verifies,
/// `decide` reaches the caveat, and the proxy thread spins for hours (C(52, 12) ≈ 2e11)
/// on one request; a handful of requests stall every worker.
#[test]
fn path_glob_with_many_double_stars_is_not_exponential() {
    let proxy = ProxyKeyPair::from_private_bytes([1; 32]);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_608_000);
    let root = Token::mint(
        proxy.public(),
        MintRequest {
            secret: Secret::new("sk_live_fuzz".into()),
            inject: Injection::Bearer,
            hosts: vec![Host::parse_canonical("api.stripe.com").expect("host")],
            expires: None,
            location: None,
            issuer: caveat::IssuerKey::generate(),
        },
        now,
    )
    .expect("mint");
    // "path glob /**/**/**/**/**/**/**/**/**/**/**/**/z"
    let glob = format!("path glob {}/z", "/**".repeat(12));
    let token = root.attenuate(&Caveat::parse(&glob).expect("glob caveat parses"));
    // "/a/a/.../a", 40 segments, none of them "z".
    let path = RequestPath::parse(&"/a".repeat(40)).expect("path");
    let req = Request::new(
        now,
        Method::new("GET").expect("method"),
        Host::normalize("api.stripe.com").expect("host"),
        path,
    );

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(decide(&token, &[], &[proxy], &req));
    });
    let decision = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("deciding one request took over 10 s: glob matching is exponential");
    assert!(!decision.is_allowed(), "the path does not match the glob");
}
