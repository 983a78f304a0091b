//! `--approval-webhook URL`: a JSON POST per new approval, so approvers hear of it where
//! they already are (Slack and Mattermost incoming webhooks read `text`). Signed like
//! Stripe's webhooks: `Macaroon-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, "t.body"))`,
//! with the secret from `--approval-webhook-secret-file`, so a receiver can tell a real
//! notice from a forged one and refuse replays.
//!
//! Deliveries never block a request: a bounded queue feeds a task of their own; each is
//! tried up to [`ATTEMPTS`] times with growing waits; what cannot be queued or delivered is
//! counted in `/metrics` and said on stderr.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use crate::approvals::Approval;

/// Notices waiting to be sent; more are dropped (counted).
const QUEUE: usize = 256;
/// Tries per notice.
pub const ATTEMPTS: u32 = 5;
/// The first wait between tries; it doubles.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// How long one try may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where notices go, and how they are signed.
pub struct Webhooks {
    urls: Vec<http::Uri>,
    secret: Option<caveat::Secret>,
    /// The admin API's base URL, for `approve_url` and `console_url` (known once bound).
    admin_base: std::sync::OnceLock<String>,
    tx: mpsc::Sender<Approval>,
    rx: Mutex<Option<mpsc::Receiver<Approval>>>,
    /// Notices delivered, given up on, and dropped (queue full).
    pub delivered: AtomicU64,
    /// Notices given up on after every try.
    pub failed: AtomicU64,
    /// Notices dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl Webhooks {
    /// Webhooks to `urls`, signed with the first line of `secret_file`. Both or neither:
    /// an unsigned notice could be forged by anyone who can reach the receiver.
    pub fn new(urls: &[String], secret_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let urls: Vec<http::Uri> = urls
            .iter()
            .map(|u| {
                let uri: http::Uri = u
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--approval-webhook {u:?} is not a URL"))?;
                match uri.scheme_str() {
                    Some("https" | "http") if uri.host().is_some() => Ok(uri),
                    _ => anyhow::bail!("--approval-webhook {u:?} must be an http:// or https:// URL"),
                }
            })
            .collect::<anyhow::Result<_>>()?;
        let secret = match (secret_file, urls.is_empty()) {
            (Some(f), _) => {
                macaroon_home::check_private_mode(f).map_err(|e| anyhow::anyhow!("--approval-webhook-secret-file: {e}"))?;
                let text = zeroize::Zeroizing::new(std::fs::read_to_string(f).map_err(|e| {
                    anyhow::anyhow!("could not read --approval-webhook-secret-file {}: {e}", f.display())
                })?);
                let first = text.lines().next().unwrap_or_default().trim();
                if first.is_empty() {
                    anyhow::bail!(
                        "--approval-webhook-secret-file {} is empty; put the shared secret on its first line",
                        f.display()
                    );
                }
                Some(caveat::Secret::new(first.to_string()))
            }
            (None, false) => anyhow::bail!(
                "--approval-webhook needs --approval-webhook-secret-file (a 0600 file whose first line is the \
                 shared secret the receiver checks signatures with)"
            ),
            (None, true) => None,
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        Ok(Webhooks {
            urls,
            secret,
            admin_base: std::sync::OnceLock::new(),
            tx,
            rx: Mutex::new(Some(rx)),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Where the admin API answers (`https://HOST:PORT`), for the links in notices.
    pub fn set_admin_base(&self, base: String) {
        let _ = self.admin_base.set(base);
    }

    /// True when no webhook is configured.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Queues a notice for a new approval; never waits.
    pub fn notify(&self, approval: Approval) {
        if self.urls.is_empty() {
            return;
        }
        if self.tx.try_send(approval).is_err() && self.dropped.fetch_add(1, Relaxed) == 0 {
            eprintln!("macaroon-proxy: approval webhooks are falling behind; notices are dropped (counted in /metrics)");
        }
    }

    /// The JSON body of a notice.
    pub fn body(&self, a: &Approval) -> Vec<u8> {
        let text = format!(
            "Approval {} needed: {} ({}; {}). Approve with: macaroon-proxy approvals approve {}",
            a.id,
            a.request(),
            a.who(),
            if a.scope == "once" {
                "once".to_string()
            } else {
                format!("for {}", a.scope)
            },
            a.id
        );
        let base = self.admin_base.get().map(String::as_str);
        serde_json::to_vec(&serde_json::json!({
            "text": text,
            "approval": a,
            "approve_url": base.map(|b| format!("{b}/api/approvals/{}/approve", a.id)),
            "console_url": base.map(|b| format!("{b}/#approvals/{}", a.id)),
        }))
        .unwrap_or_default()
    }

    /// `t=UNIX,v1=HEX` over `t.body`.
    pub fn signature(&self, t: u64, body: &[u8]) -> Option<String> {
        let secret = self.secret.as_ref()?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes()).ok()?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Some(format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes())))
    }

    /// Delivers queued notices until the queue closes: each notice to each URL, in a task
    /// of its own, so a slow receiver holds up nothing else.
    pub async fn run(self: Arc<Self>, roots: rustls::RootCertStore) {
        let Some(mut rx) = self.rx.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let tls = crate::audit_export::tls::Connector::new(roots);
        while let Some(a) = rx.recv().await {
            let body = Bytes::from(self.body(&a));
            for url in self.urls.clone() {
                let me = self.clone();
                let (body, tls) = (body.clone(), tls.clone());
                tokio::spawn(async move { me.deliver(url, body, tls).await });
            }
        }
    }

    async fn deliver(&self, url: http::Uri, body: Bytes, tls: crate::audit_export::tls::Connector) {
        let mut wait = FIRST_RETRY;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let signature = self.signature(t, &body).unwrap_or_default();
            match tokio::time::timeout(TRY_TIMEOUT, post(&url, &body, &signature, tls.clone())).await {
                Ok(Ok(status)) if status.is_success() => {
                    self.delivered.fetch_add(1, Relaxed);
                    return;
                }
                Ok(Ok(status)) => last = format!("it answered {status}"),
                Ok(Err(e)) => last = e,
                Err(_) => last = format!("no answer within {}s", TRY_TIMEOUT.as_secs()),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        self.failed.fetch_add(1, Relaxed);
        tracing::warn!(
            "approval webhook {}://{}{}: gave up after {ATTEMPTS} tries ({last})",
            url.scheme_str().unwrap_or("https"),
            url.authority().map(|a| a.as_str()).unwrap_or(""),
            url.path()
        );
    }

    /// The `/metrics` lines.
    pub fn render_metrics(&self) -> String {
        if self.urls.is_empty() {
            return String::new();
        }
        format!(
            "# HELP macaroon_approval_webhooks_total Approval notices by outcome.\n\
             # TYPE macaroon_approval_webhooks_total counter\n\
             macaroon_approval_webhooks_total{{outcome=\"delivered\"}} {}\n\
             macaroon_approval_webhooks_total{{outcome=\"failed\"}} {}\n\
             macaroon_approval_webhooks_total{{outcome=\"dropped\"}} {}\n",
            self.delivered.load(Relaxed),
            self.failed.load(Relaxed),
            self.dropped.load(Relaxed)
        )
    }
}

/// One POST; the status, or why it failed.
async fn post(
    url: &http::Uri,
    body: &Bytes,
    signature: &str,
    mut tls: crate::audit_export::tls::Connector,
) -> Result<http::StatusCode, String> {
    use tower_service::Service;
    let host = url.host().unwrap_or_default().to_string();
    let authority = url
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_else(|| host.clone());
    let req = http::Request::post(url.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("macaroon-proxy/", env!("CARGO_PKG_VERSION")),
        )
        .header("Macaroon-Signature", signature)
        .body(Full::new(body.clone()))
        .map_err(|e| e.to_string())?;
    let resp = if url.scheme_str() == Some("https") {
        let io = tls.call(url.clone()).await.map_err(|e| e.to_string())?;
        send(io, req).await?
    } else {
        let port = url.port_u16().unwrap_or(80);
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| e.to_string())?;
        send(TokioIo::new(tcp), req).await?
    };
    Ok(resp)
}

async fn send<I>(io: I, req: http::Request<Full<Bytes>>) -> Result<http::StatusCode, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_needs_a_private_secret_and_signs_t_dot_body() {
        let dir = tempfile::tempdir().expect("tmp");
        let urls = vec!["https://hooks.example.com/T1".to_string()];
        let e = Webhooks::new(&urls, None).err().expect("refused").to_string();
        assert!(e.contains("--approval-webhook-secret-file"), "{e}");
        let f = dir.path().join("secret");
        std::fs::write(&f, "s3cret\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(Webhooks::new(&urls, Some(&f)).is_err(), "readable by others");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let w = Webhooks::new(&urls, Some(&f)).expect("ok");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
        mac.update(b"1700000000.{}");
        let want = format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(w.signature(1_700_000_000, b"{}").as_deref(), Some(want.as_str()));
        assert!(Webhooks::new(&["ftp://x".to_string()], Some(&f)).is_err());
    }
}
