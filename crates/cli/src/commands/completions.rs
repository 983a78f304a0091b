//! `macaroon completions`: shell completions generated from the flag definitions.

use clap::CommandFactory;

/// Prints completions for `shell` on stdout.
pub fn run(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut cmd, "macaroon", &mut std::io::stdout());
    Ok(())
}
