//! `macaroon-proxy run`: load keys and CA, bind the listeners, serve until a signal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use caveat::{Host, ProxyKeyPair};
use macaroon_home::KeyPairFiles;
use tokio::net::TcpListener;

use crate::audit::Audit;
use crate::ca::LocalCa;
use crate::pipeline::Proxy;
use crate::upstream::AddressPolicy;

/// Validated `run` settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Proxy listener.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin: Option<SocketAddr>,
    /// `-` or a file.
    pub audit_log: String,
    /// Extra upstream roots.
    pub upstream_ca: Vec<PathBuf>,
    /// `--resolve` overrides.
    pub resolve: HashMap<String, SocketAddr>,
    /// Hosts reachable without a token.
    pub passthrough: Vec<Host>,
    /// Allow private upstream addresses.
    pub allow_private: bool,
    /// How long an upstream may take to answer.
    pub upstream_timeout: std::time::Duration,
    /// Also take connections redirected by iptables/nftables (Linux).
    pub transparent: bool,
}

/// Parses `HOST=IP:PORT`.
pub fn parse_resolve(text: &str) -> anyhow::Result<(String, SocketAddr)> {
    let (host, addr) = text.split_once('=').with_context(|| {
        format!("--resolve {text:?}: expected HOST=IP:PORT, e.g. api.example.com=127.0.0.1:8443")
    })?;
    let host = Host::normalize(host).with_context(|| format!("--resolve {text:?}"))?;
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("--resolve {text:?}: {addr:?} is not IP:PORT"))?;
    Ok((host.to_string(), addr))
}

/// Loads the proxy keys, creating a first keypair if the home has none.
fn keys(home: &Path) -> anyhow::Result<Vec<ProxyKeyPair>> {
    if !home.join(macaroon_home::PRIVATE_KEY_FILE).exists() && ProxyKeyPair::load_all(home).is_err() {
        let g = crate::keygen::keygen(home, false)?;
        eprintln!(
            "macaroon-proxy: created a proxy key in {} (key id {})",
            g.private_path.display(),
            g.keys.key_id()
        );
    }
    Ok(ProxyKeyPair::load_all(home)?)
}

/// Runs the proxy until SIGINT or SIGTERM.
pub fn run(home: &Path, cfg: RunConfig) -> anyhow::Result<()> {
    let keys = keys(home)?;
    let ca = LocalCa::load_or_create(home)?;
    let audit = Audit::open(&cfg.audit_log)?;
    let roots = crate::upstream::root_store(&cfg.upstream_ca)?;
    // One single-threaded runtime per core for connections (like nginx's workers: no task
    // migrates, no cross-thread hand-off between a request and its upstream connection),
    // and this thread's runtime for accepting, the admin listener and signals.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let workers = Workers::start(worker_count())?;
    let handles = workers.handles.clone();
    let home = home.to_path_buf();
    rt.block_on(async move {
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("could not listen on {}; pick another with --listen", cfg.listen))?;
        let local = listener.local_addr()?;
        let admin = match cfg.admin {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .with_context(|| format!("could not listen on {a} for --admin"))?,
            ),
            None => None,
        };
        let admin_addr = admin.as_ref().and_then(|a| a.local_addr().ok());
        let mut own = vec![local];
        own.extend(admin_addr);
        let policy = Arc::new(AddressPolicy {
            overrides: cfg.resolve.clone(),
            allow_private: cfg.allow_private,
            own,
        });
        let key_ids: Vec<String> = keys.iter().map(|k| k.key_id().to_string()).collect();
        let mut proxy = Proxy::new(
            keys,
            cfg.passthrough.clone(),
            ca,
            policy,
            roots,
            audit,
            crate::revoke::Revocations::load(&home),
            handles.len(),
        );
        proxy.response_timeout = cfg.upstream_timeout;
        let proxy = Arc::new(proxy);
        let admin_text = admin_addr
            .map(|a| format!(" (admin http://{a})"))
            .unwrap_or_default();
        eprintln!(
            "macaroon-proxy: listening on http://{local}{admin_text}, proxy keys {}",
            key_ids.join(", ")
        );
        eprintln!(
            "macaroon-proxy: wrap a key with `macaroon wrap NAME --host HOST`, then point a client at \
             http://{local} (base URL, or HTTPS_PROXY with the CA from `macaroon-proxy ca`)"
        );
        if let Some(admin) = admin {
            tokio::spawn(crate::listen::serve_admin(proxy.clone(), admin));
        }
        let mut server = tokio::spawn(crate::listen::serve(
            proxy.clone(),
            listener,
            cfg.transparent,
            handles,
        ));
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = proxy.stopping.cancelled() => {
                // The listener could not be served (already reported): exit, not idle.
                let _ = (&mut server).await;
                anyhow::bail!("the proxy listener stopped");
            }
        }
        eprintln!("macaroon-proxy: shutting down, finishing requests in flight");
        proxy.stopping.cancel();
        let _ = server.await;
        anyhow::Ok(())
    })
}

/// Connection threads: one per core, or `MACAROON_WORKERS`.
fn worker_count() -> usize {
    std::env::var("MACAROON_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=256).contains(n))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The connection threads, each running a single-threaded runtime until dropped.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    threads: Vec<std::thread::JoinHandle<()>>,
    done: tokio_util::sync::CancellationToken,
}

impl Workers {
    fn start(n: usize) -> anyhow::Result<Self> {
        let mut w = Workers {
            handles: Vec::new(),
            threads: Vec::new(),
            done: tokio_util::sync::CancellationToken::new(),
        };
        for i in 1..=n {
            let (tx, rx) = std::sync::mpsc::channel();
            let done = w.done.clone();
            let thread = std::thread::Builder::new()
                .name(format!("macaroon-worker-{i}"))
                .spawn(move || {
                    crate::pipeline::set_worker(i);
                    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => {
                            let _ = tx.send(Ok(rt.handle().clone()));
                            // Runs this thread's connections until the proxy has drained
                            // and drops the workers; then a DNS lookup still running on
                            // its blocking pool does not hold the exit up.
                            rt.block_on(done.cancelled());
                            rt.shutdown_timeout(std::time::Duration::from_secs(1));
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                })
                .context("could not start a worker thread")?;
            w.threads.push(thread);
            let handle = rx
                .recv()
                .context("a worker thread exited at start")?
                .context("could not start a worker's async runtime")?;
            w.handles.push(handle);
        }
        Ok(w)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.done.cancel();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
