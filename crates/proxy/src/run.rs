//! `macaroon-proxy run`: load keys and CA, bind the listeners, serve until a signal.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use caveat::ProxyKeyPair;
use macaroon_home::KeyPairFiles;
use tokio::net::TcpListener;

use crate::audit::Audit;
use crate::ca::LocalCa;
use crate::config::Config;
use crate::proxy::{Loaded, Proxy};

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

/// Raises the soft limit on open descriptors to the hard limit (as Go's runtime and
/// nginx's `worker_rlimit_nofile` do): every client connection and every upstream one is a
/// descriptor, and the common soft default of 1024 would refuse the thousand-and-first.
/// Returns the limit now in force, if it could be read.
#[cfg(target_os = "linux")]
fn raise_fd_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}

#[cfg(not(target_os = "linux"))]
fn raise_fd_limit() -> Option<u64> {
    None
}

/// Raises the descriptor limit, and says so when it still allows few connections.
fn warn_if_few_descriptors() {
    if let Some(n) = raise_fd_limit().filter(|n| *n < 4096) {
        eprintln!(
            "macaroon-proxy: at most {n} open descriptors (ulimit -n): about {} client connections at once; raise the hard limit for more",
            n / 2
        );
    }
}

/// The variable that lets a `bench-no-scrub` build run.
const BENCH_NO_SCRUB_ENV: &str = "MACAROON_BENCH_NO_SCRUB";

/// A build with the bench-only feature `bench-no-scrub` (which `cargo --all-features` turns
/// on without a word) does not scrub secrets from responses: it runs only when
/// `MACAROON_BENCH_NO_SCRUB=1` asks for it, and says so loudly.
fn bench_guard(no_scrub_build: bool, env: Option<&std::ffi::OsStr>) -> anyhow::Result<()> {
    if !no_scrub_build {
        return Ok(());
    }
    if env.is_some_and(|v| v == "1") {
        eprintln!(
            "macaroon-proxy: WARNING: benchmark build (feature bench-no-scrub): responses are NOT scrubbed, \
             an upstream that echoes a secret hands it to the client. Never use this build for real traffic."
        );
        return Ok(());
    }
    anyhow::bail!(
        "this macaroon-proxy was built with the bench-only feature bench-no-scrub (as `cargo build --all-features` does), \
         which does not scrub secrets from responses: rebuild without it (`cargo build -p macaroon-proxy`), \
         or set {BENCH_NO_SCRUB_ENV}=1 to run it for a benchmark"
    )
}

/// Runs the proxy until SIGINT or SIGTERM (SIGHUP re-reads issuers and revocations).
pub fn run(home: &Path, cfg: Config) -> anyhow::Result<()> {
    run_with(home, cfg, crate::config_file::Source::Flags)
}

/// Runs the proxy until SIGINT or SIGTERM; SIGHUP reloads from `source`
/// ([`crate::reload`]).
pub fn run_with(home: &Path, cfg: Config, source: crate::config_file::Source) -> anyhow::Result<()> {
    bench_guard(
        cfg!(feature = "bench-no-scrub"),
        std::env::var_os(BENCH_NO_SCRUB_ENV).as_deref(),
    )?;
    let cfg = Arc::new(cfg);
    warn_if_few_descriptors();
    let (revoked, issuers) = trust_lists(home, &cfg)?;
    // One single-threaded runtime per core for connections (like nginx's workers: no task
    // migrates, no cross-thread hand-off between a request and its upstream connection),
    // and this thread's runtime for accepting, the admin listener, reloads and signals.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    // SIGHUP reloads from here on (by default it would end the process).
    let hangups = {
        let _in_runtime = rt.enter();
        crate::reload::hangups()
    };
    // The store's connection tasks live on this thread's runtime.
    let state = Arc::new(rt.block_on(async {
        crate::state::State::open(cfg.state.as_deref(), cfg.state_password.as_ref(), cfg.workers)
    })?);
    let keys = keys(home)?;
    let ca = LocalCa::load_or_create(home)?;
    let admin_state = Arc::new(crate::admin::AdminState::new(
        home.to_path_buf(),
        crate::admin::tls::acceptor(cfg.admin_tls.as_ref(), &ca)?,
    )?);
    let admin_scheme = if admin_state.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let roots = crate::upstream::policy::root_store(&cfg.upstream_ca, ca.cert_pem())?;
    let loaded = Loaded {
        state: state.clone(),
        keys,
        roots: roots.clone(),
        ca,
        audit: {
            let (export, handle) =
                crate::audit_export::Export::start(cfg.audit_format, cfg.otlp.as_deref(), &roots)?;
            Audit::open_exporting(&cfg.audit_log, export, handle)?
        },
        revoked: revoked.clone(),
        issuers: issuers.clone(),
        webhooks: Arc::new(crate::webhook::Webhooks::new(
            &cfg.approval_webhooks,
            cfg.approval_webhook_secret_file.as_deref(),
        )?),
    };
    let workers = Workers::start(cfg.workers)?;
    let handles = workers.handles.clone();
    rt.block_on(async move {
        let (listener, admin) = bind(&cfg).await?;
        let local = listener.local_addr()?;
        let admin_addr = admin.as_ref().and_then(|a| a.local_addr().ok());
        let mut own = vec![local];
        own.extend(admin_addr);
        let key_ids: Vec<String> = loaded.keys.iter().map(|k| k.key_id().to_string()).collect();
        let proxy = Arc::new(Proxy::new(cfg.clone(), loaded, own));
        if let Some(a) = admin_addr {
            proxy.webhooks.set_admin_base(format!("{admin_scheme}://{a}"));
        }
        spawn_background(
            &proxy,
            Background {
                state,
                revoked,
                issuers,
                roots,
                source,
                hangups,
            },
        );
        announce(local, admin_addr.map(|a| (admin_scheme, a)), &key_ids);
        if let Some(admin) = admin {
            tokio::spawn(crate::admin::serve(proxy.clone(), admin_state, admin));
        }
        let mut server = tokio::spawn(crate::listen::serve(proxy.clone(), listener, handles));
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
        if !proxy.audit.flush(std::time::Duration::from_secs(5)) {
            eprintln!("macaroon-proxy: the audit log did not take its last lines within 5 s; they are lost");
        }
        anyhow::Ok(())
    })
}

/// The agents' listener and, with `--admin`, the admin one.
async fn bind(cfg: &Config) -> anyhow::Result<(TcpListener, Option<TcpListener>)> {
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("could not listen on {}; pick another with --listen", cfg.listen))?;
    let admin = match cfg.admin {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("could not listen on {a} for --admin"))?,
        ),
        None => None,
    };
    Ok((listener, admin))
}

/// The revocations and the trusted issuers of `home` (and `run --issuer`), said on
/// stderr when no issuer is trusted yet.
fn trust_lists(
    home: &Path,
    cfg: &Config,
) -> anyhow::Result<(Arc<crate::revoke::Revocations>, Arc<crate::issuers::Issuers>)> {
    let revoked = Arc::new(crate::revoke::Revocations::load(home).with_context(|| {
        format!(
            "could not read {}",
            home.join(crate::revoke::REVOKED_FILE).display()
        )
    })?);
    let issuers = Arc::new(crate::issuers::Issuers::load(home, cfg.issuers.clone())?);
    if issuers.is_empty() {
        eprintln!(
            "macaroon-proxy: no trusted issuer yet, so tokens are refused until there is one: \
             the first `macaroon wrap` in this home creates one (trusted from its first request), or run: macaroon-proxy issuers add KEY"
        );
    }
    Ok((revoked, issuers))
}

/// What the proxy's background tasks need beside the proxy.
struct Background {
    state: Arc<crate::state::State>,
    revoked: Arc<crate::revoke::Revocations>,
    issuers: Arc<crate::issuers::Issuers>,
    roots: rustls::RootCertStore,
    source: crate::config_file::Source,
    hangups: crate::reload::Hangups,
}

/// Starts the tasks that keep the proxy's lists, pools and shared state current: the
/// team's decisions and audit stream (with `--state`), webhooks, the revocation and issuer
/// files, the upstream sweep, SIGHUP reloads, and the store's revocations (whose restart
/// makes this replica write back what it holds).
fn spawn_background(proxy: &Arc<Proxy>, b: Background) {
    if proxy.state.shared().is_some() {
        tokio::spawn(watch_decisions(proxy.clone()));
        tokio::spawn(crate::admin::events::share(proxy.clone()));
    }
    if !proxy.webhooks.is_empty() {
        tokio::spawn(proxy.webhooks.clone().run(b.roots));
    }
    tokio::spawn(b.revoked.clone().watch(proxy.stopping.clone()));
    tokio::spawn(b.issuers.watch(proxy.stopping.clone()));
    tokio::spawn(sweep_upstreams(proxy.clone()));
    tokio::spawn(crate::reload::on_hangup(proxy.clone(), b.source, b.hangups));
    tokio::spawn(crate::state::revocations::watch_revocations(
        b.state,
        b.revoked,
        Some(Box::new({
            let proxy = proxy.clone();
            move || {
                let p = proxy.clone();
                // Apart: it may wait on an exchange in flight.
                tokio::spawn(async move { p.access_tokens.write_back().await });
                let p = proxy.clone();
                tokio::spawn(async move { p.approvals.write_back().await });
            }
        })),
        proxy.stopping.clone(),
    ));
}

/// The start-up lines a person reads (tests read the address from the first).
fn announce(local: std::net::SocketAddr, admin: Option<(&str, std::net::SocketAddr)>, key_ids: &[String]) {
    let admin_text = admin
        .map(|(scheme, a)| format!(" (admin {scheme}://{a})"))
        .unwrap_or_default();
    eprintln!(
        "macaroon-proxy: listening on http://{local}{admin_text}, proxy keys {}",
        key_ids.join(", ")
    );
    eprintln!(
        "macaroon-proxy: wrap a key with `macaroon wrap NAME --host HOST`, then point a client at \
         http://{local} (base URL, or HTTPS_PROXY with the CA from `macaroon-proxy ca`)"
    );
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
                    crate::worker::set_worker(i);
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

/// Every 10 s, closes upstream connections idle for longer than the pool keeps them (a
/// worker with no traffic would otherwise hold them until its next request).
async fn sweep_upstreams(proxy: Arc<Proxy>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => proxy.sweep_idle_upstreams(),
            _ = proxy.stopping.cancelled() => return,
        }
    }
}

/// Wakes the requests this replica holds when a decision is published (by any replica),
/// until the proxy stops; reconnects after a store outage (held requests also poll).
async fn watch_decisions(proxy: Arc<Proxy>) {
    use futures_core::Stream;
    let Some(r) = proxy.state.shared() else { return };
    loop {
        match r.decisions().await {
            Ok(mut pubsub) => {
                let mut messages = std::pin::pin!(pubsub.on_message());
                loop {
                    let next = std::future::poll_fn(|cx| messages.as_mut().poll_next(cx));
                    tokio::select! {
                        m = next => match m {
                            Some(m) => {
                                if let Ok(id) = m.get_payload::<String>() {
                                    proxy.approvals.wake(&id).await;
                                }
                            }
                            None => break,
                        },
                        _ = proxy.stopping.cancelled() => return,
                    }
                }
            }
            Err(e) => tracing::debug!("approval decisions: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = proxy.stopping.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_no_scrub_build_runs_only_when_asked_by_name() {
        assert!(bench_guard(false, None).is_ok());
        let e = bench_guard(true, None).expect_err("refused");
        assert!(e.to_string().contains("MACAROON_BENCH_NO_SCRUB=1"), "{e}");
        assert!(bench_guard(true, Some("0".as_ref())).is_err());
        assert!(bench_guard(true, Some("yes".as_ref())).is_err());
        assert!(bench_guard(true, Some("1".as_ref())).is_ok());
    }
}
