//! [`AdminState`]: what the admin listener holds besides the [`crate::proxy::Proxy`].

use std::path::PathBuf;
use std::sync::Mutex;

/// What the admin listener holds besides the [`crate::proxy::Proxy`].
pub struct AdminState {
    /// The proxy's home (`operator.key`, `issuers`).
    pub home: PathBuf,
    /// TLS, on any address but loopback.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The operator key, loaded on first use (so a `operator mint` after start is seen).
    operator_key: Mutex<Option<caveat::OperatorKey>>,
    /// The console's logged-in operators.
    pub sessions: crate::console::session::Sessions,
}

impl AdminState {
    /// The admin state of the proxy whose home is `home`. An `operator.key` that is there
    /// but unusable (readable by others, malformed) is an error here, at start-up; one
    /// that is missing is looked for again on each API request until it appears.
    pub fn new(home: PathBuf, tls: Option<tokio_rustls::TlsAcceptor>) -> anyhow::Result<Self> {
        let key = crate::operators::load(&home)?;
        Ok(AdminState {
            home,
            tls,
            operator_key: Mutex::new(key),
            sessions: Default::default(),
        })
    }

    /// The operator key (`operator.key`), if the home has a usable one.
    pub fn operator_key(&self) -> Option<caveat::OperatorKey> {
        let mut k = self.operator_key.lock().unwrap_or_else(|p| p.into_inner());
        if k.is_none() {
            match crate::operators::load(&self.home) {
                Ok(loaded) => *k = loaded,
                Err(e) => tracing::warn!("operator tokens are refused: {e:#}"),
            }
        }
        k.clone()
    }
}
