//! `macaroon-proxy approvals list|show|approve|deny`: the approvers' commands, clients of
//! a running proxy's admin API (`/api/approvals`, docs/admin-api.md) with an operator
//! token.

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::admin_client::{AdminArgs, AdminClient};

/// `macaroon-proxy approvals` subcommands.
#[derive(Subcommand, Debug)]
pub enum ApprovalsAction {
    /// The approvals the proxy holds, newest first (pending, then decided).
    List {
        /// Where the API is, and the token.
        #[command(flatten)]
        admin: AdminArgs,
        /// Print the JSON array (the shape of GET /api/approvals).
        #[arg(long)]
        json: bool,
        /// Keep watching: print each new or changed approval as it happens (Ctrl-C ends).
        #[arg(long)]
        watch: bool,
    },
    /// One approval: the whole request summary, body included.
    Show {
        /// The approval's id (8 characters).
        id: String,
        /// Where the API is, and the token.
        #[command(flatten)]
        admin: AdminArgs,
        /// Print the JSON object.
        #[arg(long)]
        json: bool,
        /// Print the discharge macaroon an approval minted (standard V2): the approval
        /// itself, verifiable with the caveat key. Needs the approve role.
        #[arg(long)]
        discharge: bool,
    },
    /// Approve: the held request goes upstream (and, for a window, the requests like it
    /// until it ends).
    Approve {
        /// The approval's id.
        id: String,
        /// Where the API is, and the token.
        #[command(flatten)]
        admin: AdminArgs,
        /// A window instead of the scope the token asks for (10m, 1h; at most 24h).
        #[arg(long = "for", value_name = "DURATION")]
        window: Option<String>,
        /// In a window, only this method (default: the request's).
        #[arg(long, value_name = "METHOD")]
        method: Option<String>,
        /// In a window, only paths under this one (default: the request's path).
        #[arg(long, value_name = "PATH")]
        path: Option<String>,
        /// A note kept with the decision.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Deny: the held request gets 403 approval_denied, with the reason.
    Deny {
        /// The approval's id.
        id: String,
        /// Where the API is, and the token.
        #[command(flatten)]
        admin: AdminArgs,
        /// Why (the agent sees it).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}

/// One line for a person: id, state, who, what.
fn line(a: &serde_json::Value) -> String {
    let Ok(a) = serde_json::from_value::<crate::approvals::Approval>(a.clone()) else {
        return macaroon_home::text::clean(&a.to_string()).into_owned();
    };
    let decided = a
        .decided_by
        .as_deref()
        .map(|by| format!(" by {by}"))
        .unwrap_or_default();
    let state = serde_json::to_value(a.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    macaroon_home::text::clean(&format!(
        "{}  {state:<8}{decided}  {}  ({}; scope {}; {})",
        a.id,
        a.request(),
        a.who(),
        a.scope,
        a.created,
    ))
    .into_owned()
}

/// Runs `macaroon-proxy approvals ...`.
pub fn run(home: &std::path::Path, action: ApprovalsAction) -> anyhow::Result<()> {
    let rt = runtime()?;
    match action {
        ApprovalsAction::List { admin, json, watch } => {
            let client = AdminClient::from_args(home, &admin)?;
            let mut seen: std::collections::HashMap<String, String> = Default::default();
            loop {
                let list = rt.block_on(client.get_json("/api/approvals"))?;
                let items = list.as_array().cloned().unwrap_or_default();
                if !watch {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    } else if items.is_empty() {
                        eprintln!("No approvals on this proxy.");
                    } else {
                        for a in &items {
                            println!("{}", line(a));
                        }
                    }
                    return Ok(());
                }
                // Oldest first, so the terminal reads in time order.
                for a in items.iter().rev() {
                    let id = a["id"].as_str().unwrap_or_default().to_string();
                    let state = a["state"].as_str().unwrap_or_default().to_string();
                    if seen.get(&id) != Some(&state) {
                        if json {
                            println!("{a}");
                        } else {
                            println!("{}", line(a));
                        }
                        seen.insert(id, state);
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        ApprovalsAction::Show {
            id,
            admin,
            json,
            discharge,
        } => {
            let client = AdminClient::from_args(home, &admin)?;
            if discharge {
                let v = rt.block_on(client.get_json(&format!("/api/approvals/{id}/discharge")))?;
                println!("{}", v["discharge"].as_str().unwrap_or_default());
                return Ok(());
            }
            let a = rt.block_on(client.get_json(&format!("/api/approvals/{id}")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                println!("{}", line(&a));
                for k in ["client", "kid", "decided_at", "reason", "granted"] {
                    if let Some(v) = a[k].as_str() {
                        println!("  {k}: {}", macaroon_home::text::clean(v));
                    }
                }
                if let Some(body) = a["body"].as_str() {
                    println!("  body:\n{}", macaroon_home::text::clean_lines(body));
                }
            }
        }
        ApprovalsAction::Approve {
            id,
            admin,
            window,
            method,
            path,
            note,
        } => {
            let client = AdminClient::from_args(home, &admin)?;
            let body = serde_json::json!({"for": window, "method": method, "path": path, "note": note});
            let a = rt.block_on(client.post_json(&format!("/api/approvals/{id}/approve"), &body))?;
            eprintln!(
                "Approved {id}: {}.",
                macaroon_home::text::clean(a["granted"].as_str().unwrap_or("the held request goes on"))
            );
        }
        ApprovalsAction::Deny { id, admin, reason } => {
            let client = AdminClient::from_args(home, &admin)?;
            let body = serde_json::json!({"reason": reason});
            rt.block_on(client.post_json(&format!("/api/approvals/{id}/deny"), &body))?;
            eprintln!("Denied {id}: the agent gets 403 approval_denied.");
        }
    }
    Ok(())
}
