//! The client side of the admin API, for `macaroon-proxy` commands that talk to a running
//! proxy (`operator whoami`, and the approval commands): where the API is and which
//! operator token to send ([`AdminArgs`], flattened into a command's flags), and
//! authenticated JSON requests ([`AdminClient`]).
//!
//! * URL: `--admin-url`, else `$MACAROON_ADMIN_URL`, else [`DEFAULT_ADMIN_URL`]; `https://`
//!   is verified against the proxy's CA (`$MACAROON_HOME/ca.pem`) and the system roots.
//! * Token: `--operator-token`, else `$MACAROON_OPERATOR_TOKEN`, else the file
//!   `$MACAROON_HOME/operator.token`, which must be private (0600).
//!
//! No error ever holds the token.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use zeroize::Zeroizing;

/// Where the admin API is when nothing says otherwise (the address docs/proxy.md uses).
pub const DEFAULT_ADMIN_URL: &str = "http://127.0.0.1:9090";
/// The variable naming the admin API.
pub const ADMIN_URL_ENV: &str = "MACAROON_ADMIN_URL";
/// The variable holding an operator token.
pub const OPERATOR_TOKEN_ENV: &str = "MACAROON_OPERATOR_TOKEN";
/// The operator token file in a home.
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";
/// How long one request may take (a response body is read whole).
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read.
const MAX_RESPONSE: usize = 16 << 20;

/// The flags of a command that calls the admin API.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct AdminArgs {
    /// The running proxy's admin listener (default: $MACAROON_ADMIN_URL, else http://127.0.0.1:9090).
    #[arg(long, value_name = "URL")]
    pub admin_url: Option<String>,
    /// The operator token (default: $MACAROON_OPERATOR_TOKEN, else $MACAROON_HOME/operator.token).
    /// On the command line it shows in `ps`: prefer the variable or the file.
    #[arg(long, value_name = "TOKEN")]
    pub operator_token: Option<String>,
}

/// An authenticated client of one admin API.
pub struct AdminClient {
    /// The base URL, without a trailing slash.
    base: String,
    /// Its `host:port`, for the Host header.
    authority: String,
    token: Zeroizing<String>,
    tls: Option<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>)>,
    /// host:port to connect to.
    addr: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminClient({}, token redacted)", self.base)
    }
}

/// The operator token from the flag, the variable or `home`'s file, checked to be a token.
fn token(home: &Path, flag: Option<&str>) -> anyhow::Result<Zeroizing<String>> {
    let (text, from) = match flag {
        Some(t) => (
            Zeroizing::new(t.trim().to_string()),
            "--operator-token".to_string(),
        ),
        None => match std::env::var(OPERATOR_TOKEN_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(t) => (
                Zeroizing::new(t.trim().to_string()),
                format!("${OPERATOR_TOKEN_ENV}"),
            ),
            None => {
                let path = home.join(OPERATOR_TOKEN_FILE);
                if !path.exists() {
                    bail!(
                        "no operator token: pass --operator-token, set {OPERATOR_TOKEN_ENV}, or save one to {} \
                         (mode 0600); mint one on the proxy's host with: macaroon-proxy operator mint --name YOUR-NAME",
                        path.display()
                    );
                }
                macaroon_home::check_private_mode(&path)?;
                let t = Zeroizing::new(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("could not read {}", path.display()))?,
                );
                (Zeroizing::new(t.trim().to_string()), path.display().to_string())
            }
        },
    };
    caveat::Token::decode(&text)
        .map_err(|e| anyhow::anyhow!("the operator token in {from} is not a token: {e}"))?;
    Ok(text)
}

impl AdminClient {
    /// The client the flags (or their variables and defaults) describe; `home` holds the
    /// default token file and the proxy CA.
    pub fn from_args(home: &Path, args: &AdminArgs) -> anyhow::Result<Self> {
        let url = match &args.admin_url {
            Some(u) => u.clone(),
            None => std::env::var(ADMIN_URL_ENV)
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_string()),
        };
        let token = token(home, args.operator_token.as_deref())?;
        Self::new(home, &url, token)
    }

    fn new(home: &Path, url: &str, token: Zeroizing<String>) -> anyhow::Result<Self> {
        let bad = || format!("admin URL {url:?}: expected http://HOST:PORT or https://HOST:PORT");
        let base: http::Uri = url.trim_end_matches('/').parse().with_context(bad)?;
        let host = base.host().with_context(bad)?.to_string();
        let https = match base.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => bail!("{}", bad()),
        };
        let port = base.port_u16().unwrap_or(if https { 443 } else { 80 });
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = if https {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(
                macaroon_home::system_roots()
                    .0
                    .into_iter()
                    .map(rustls::pki_types::CertificateDer::from),
            );
            let ca = home.join(crate::ca::CA_CERT_FILE);
            if ca.exists() {
                use rustls::pki_types::pem::PemObject;
                for c in rustls::pki_types::CertificateDer::pem_file_iter(&ca)
                    .with_context(|| format!("could not read {}", ca.display()))?
                    .flatten()
                {
                    let _ = roots.add(c);
                }
            }
            let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(bare.clone()).with_context(bad)?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(cfg)), name))
        } else {
            None
        };
        Ok(AdminClient {
            base: url.trim_end_matches('/').to_string(),
            authority: base.authority().map(|a| a.to_string()).unwrap_or_default(),
            token,
            tls,
            addr: format!("{host}:{port}"),
        })
    }

    /// `GET path`, the JSON answer.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body, the JSON answer.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.call(Method::POST, path, Some(serde_json::to_vec(body)?))
            .await
    }

    /// `DELETE path`, the JSON answer.
    pub async fn delete_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call(Method::DELETE, path, None).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<serde_json::Value> {
        let what = format!("{method} {}{path}", self.base);
        let resp = tokio::time::timeout(TIMEOUT, self.send(method, path, body))
            .await
            .with_context(|| format!("{what}: no answer within {}s", TIMEOUT.as_secs()))??;
        let status = resp.status();
        let bytes = tokio::time::timeout(
            TIMEOUT,
            http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE).collect(),
        )
        .await
        .with_context(|| format!("{what}: the answer did not arrive within {}s", TIMEOUT.as_secs()))?
        .map_err(|e| anyhow::anyhow!("{what}: could not read the answer: {e}"))?
        .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{what}: HTTP {status}, and the answer is not JSON: is {} a macaroon-proxy admin listener?",
                self.base
            )
        })?;
        if !status.is_success() {
            let message = value["error"]["message"].as_str().unwrap_or("no message");
            let hint = if status == StatusCode::UNAUTHORIZED {
                " (check the operator token)"
            } else {
                ""
            };
            bail!("{what}: HTTP {status}{hint}: {message}");
        }
        Ok(value)
    }

    /// Sends one request with the operator token and returns the response as it starts
    /// (its body still streaming: `/api/events` is read this way).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let target = format!("{}{path}", self.base);
        let stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| {
                format!(
                "could not reach the admin API at {}: is `macaroon-proxy run --admin ADDR` running there? \
                 (--admin-url or ${ADMIN_URL_ENV} say where)",
                self.base
            )
            })?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.authority.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token.as_str()),
            );
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| anyhow::anyhow!("{target}: could not build the request (a bad path?)"))?;
        macro_rules! over {
            ($io:expr) => {{
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new($io))
                    .await
                    .with_context(|| format!("{target}: the HTTP handshake failed"))?;
                tokio::spawn(conn);
                sender
                    .send_request(req)
                    .await
                    .with_context(|| format!("{target}: the request failed"))?
            }};
        }
        Ok(match &self.tls {
            None => over!(stream),
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), stream).await.with_context(|| {
                    format!(
                        "{target}: the TLS handshake failed (does the listener's certificate name this host, and \
                         is its CA in {} or the system's trust store?)",
                        crate::ca::CA_CERT_FILE
                    )
                })?;
                over!(tls)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_readable_by_others_is_refused_and_errors_never_hold_the_token() {
        let home = tempfile::tempdir().expect("home");
        let key = caveat::OperatorKey::generate();
        let t = key
            .mint(
                "alice",
                &[caveat::Role::Read],
                std::time::SystemTime::now() + Duration::from_secs(60),
            )
            .expect("mint")
            .encode();
        let path = home.path().join(OPERATOR_TOKEN_FILE);
        macaroon_home::write_private_file(&path, t.as_bytes()).expect("write");
        assert_eq!(token(home.path(), None).expect("file").as_str(), t);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(token(home.path(), None).is_err());
        }
        let e = token(home.path(), Some(&format!("{t}x!"))).expect_err("bad token");
        assert!(!e.to_string().contains(&t), "{e}");
        assert!(AdminClient::new(home.path(), "ftp://x", Zeroizing::new(t.clone())).is_err());
        let c = AdminClient::new(home.path(), "https://localhost:9443/", Zeroizing::new(t.clone()))
            .expect("client");
        assert!(!format!("{c:?}").contains(&t));
    }
}
