//! `macaroon list`: the stored tokens (never the tokens themselves).

use crate::cli::ListArgs;
use crate::output::{cells, clean, table};
use crate::store::Store;

/// Runs `list`.
pub fn run(args: ListArgs, store: &Store) -> anyhow::Result<()> {
    let ListArgs { json, names } = args;
    let entries = store.list()?;
    if names {
        // Nothing else, not even a note when there are none: shells and scripts read this.
        for e in &entries {
            println!("{}", clean(&e.name));
        }
        return Ok(());
    }
    let home = store.home();
    let revoked = macaroon_home::revoked(home).unwrap_or_else(|e| {
        eprintln!("warning: cannot tell which tokens are revoked: {e}");
        Default::default()
    });
    let local = std::fs::read_to_string(home.join(macaroon_home::LOCAL_ISSUER_FILE))
        .ok()
        .map(|t| t.trim().to_string());
    // Revoked on this home's list: the family, or the root's own branch.
    let is_revoked = |e: &macaroon_home::tokens::Entry| {
        [&e.kid, &e.branch].iter().any(|id| {
            id.as_ref()
                .is_some_and(|id| revoked.contains(&id.to_ascii_lowercase()))
        })
    };
    let issuer = |e: &macaroon_home::tokens::Entry| -> Option<String> {
        let key = e.issuer.as_ref()?;
        Some(if local.as_ref() == Some(key) {
            "local".to_string()
        } else {
            key.clone()
        })
    };
    if json {
        let shaped: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "name": e.name, "created": e.created, "hosts": e.hosts, "expires": e.expires,
                    "inject": e.inject, "proxy_key_id": e.proxy_key_id, "store": e.store,
                    "kid": e.kid, "issuer": issuer(e), "issuer_key": e.issuer, "revoked": is_revoked(e),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&shaped)?);
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("No stored tokens. Wrap a key with: macaroon wrap NAME --host HOST");
        return Ok(());
    }
    let mut t = table(["NAME", "HOSTS", "INJECT", "ISSUER", "KID", "EXPIRES", "REVOKED"]);
    for e in &entries {
        t.add_row(cells([
            e.name.clone(),
            e.hosts.join(", "),
            e.inject.clone(),
            issuer(e).map_or_else(
                || "?".into(),
                |i| {
                    if i.len() > 20 {
                        format!("{}...", &i[..12])
                    } else {
                        i
                    }
                },
            ),
            e.kid.clone().unwrap_or_else(|| "?".into()),
            e.expires.clone().unwrap_or_else(|| "never".into()),
            if is_revoked(e) {
                "REVOKED".into()
            } else {
                "no".into()
            },
        ]));
    }
    println!("{t}");
    Ok(())
}
