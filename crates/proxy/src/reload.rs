//! SIGHUP: re-reads the trusted issuers and the revocation list, derives the settings
//! again from `--config FILE` and the command line (which keeps winning), and swaps in the
//! part a reload can change ([`Live`]). Connections in flight keep going; a file that does
//! not check out changes nothing and is reported on stderr, naming the key and its line.

use std::sync::Arc;

use crate::config::HostPattern;
use crate::config_file::Source;
use crate::live::Live;
use crate::proxy::Proxy;

/// SIGHUP, caught from the moment [`hangups`] is called: a SIGHUP before that would end
/// the process (its default action), so `run` calls it as soon as it has a runtime.
pub struct Hangups(#[cfg(unix)] std::io::Result<tokio::signal::unix::Signal>);

/// Starts catching SIGHUP (call it inside a Tokio runtime).
pub fn hangups() -> Hangups {
    Hangups(
        #[cfg(unix)]
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()),
    )
}

/// Reloads on each SIGHUP until the proxy stops.
pub async fn on_hangup(proxy: Arc<Proxy>, mut source: Source, hangups: Hangups) {
    #[cfg(unix)]
    {
        let mut hup = match hangups.0 {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP ({e}); restart the proxy to apply new settings");
                return;
            }
        };
        loop {
            tokio::select! {
                got = hup.recv() => if got.is_none() { return },
                _ = proxy.stopping.cancelled() => return,
            }
            // Off this thread: it reads files.
            let p = proxy.clone();
            source = match tokio::task::spawn_blocking(move || {
                reload(&p, &mut source);
                source
            })
            .await
            {
                Ok(s) => s,
                Err(_) => return,
            };
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (proxy, &mut source, hangups);
    }
}

/// One reload: issuers, revocations, then the settings of the config file if there is one.
pub fn reload(proxy: &Proxy, source: &mut Source) {
    proxy.issuers.refresh();
    proxy.revoked.refresh();
    let Some(path) = source.path().map(|p| p.display().to_string()) else {
        tracing::info!(
            "SIGHUP: re-read the trusted issuers and the revocation list (no --config file, so the other settings stay)"
        );
        return;
    };
    match source.reread() {
        Err(e) => tracing::error!("SIGHUP: reload refused, keeping the settings in force: {e:#}"),
        Ok(None) => {}
        Ok(Some((cfg, keys))) => {
            let new = Live::from_config(&cfg);
            let changes = proxy.live.load().changes(&new);
            // Hosts named exactly keep their interception leaves, as at start-up.
            for p in &new.allow_hosts {
                if let HostPattern::Exact(h) = p {
                    proxy.ca.protect(h.as_str());
                }
            }
            proxy.approvals.set_ttl(new.approval_ttl);
            proxy.live.store(Arc::new(new));
            let later: Vec<&str> = keys
                .iter()
                .map(String::as_str)
                .filter(|k| !Live::KEYS.contains(k))
                .collect();
            if !later.is_empty() {
                tracing::warn!(
                    "SIGHUP: {path}: {} changed, which only a restart applies; the value in force stays until then",
                    later.join(", ")
                );
            }
            let what = if changes.is_empty() {
                "no reloadable setting changed".to_string()
            } else {
                changes.join("; ")
            };
            tracing::info!("SIGHUP: reloaded {path} (and the issuers and revocations): {what}");
        }
    }
}
