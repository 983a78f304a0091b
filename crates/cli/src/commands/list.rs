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
    if json {
        let shaped: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "name": e.name, "created": e.created, "hosts": e.hosts, "expires": e.expires,
                    "inject": e.inject, "proxy_key_id": e.proxy_key_id, "store": e.store,
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
    let mut t = table(["NAME", "CREATED", "HOSTS", "EXPIRES", "INJECT", "STORE"]);
    for e in &entries {
        t.add_row(cells([
            e.name.clone(),
            e.created.clone(),
            e.hosts.join(", "),
            e.expires.clone().unwrap_or_else(|| "never".into()),
            e.inject.clone(),
            format!("{:?}", e.store).to_lowercase(),
        ]));
    }
    println!("{t}");
    Ok(())
}
