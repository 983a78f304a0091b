//! Command-line definitions and dispatch for `macaroon-proxy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The macaroon verifier proxy: checks a macaroon on every request, injects the sealed
/// API key, and forwards only to the host the key was sealed for.
#[derive(Parser, Debug)]
#[command(name = "macaroon-proxy", version, propagate_version = true)]
pub struct Cli {
    /// The macaroon home (keys, CA). Default: $MACAROON_HOME, else ~/.config/macaroon.
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the proxy keypair (proxy.key, mode 0600, and proxy.pub) and print the public key.
    ///
    /// Tokens are sealed to the public key: anyone with it can wrap an API key, and
    /// only this proxy can open what they wrap.
    ///
    /// Example:
    ///   macaroon-proxy keygen
    ///   macaroon-proxy keygen --home /etc/macaroon --force
    Keygen {
        /// Replace existing key files (tokens sealed to the old key stop working).
        #[arg(long)]
        force: bool,
    },

    /// Print shell completions.
    ///
    /// Example:
    ///   macaroon-proxy completions bash > ~/.local/share/bash-completion/completions/macaroon-proxy
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Parses arguments, runs the command, and maps the outcome to an exit code:
/// 0 ok, 2 bad usage or bad input (errors print once, with their context chain).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("macaroon-proxy: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "macaroon-proxy", &mut std::io::stdout());
        return Ok(());
    }
    let home = caveat::macaroon_home(cli.home.as_deref())
        .context("no home directory found; pass --home DIR or set MACAROON_HOME")?;
    match cli.command {
        Command::Keygen { force } => {
            let g = crate::keygen::keygen(&home, force)?;
            eprintln!(
                "wrote {} (private, mode 0600) and {}; key id {}",
                g.private_path.display(),
                g.public_path.display(),
                g.keys.key_id()
            );
            println!("{}", g.keys.public().to_base64());
            Ok(())
        }
        Command::Completions { .. } => Ok(()),
    }
}
