//! `macaroon`: wrap API keys into macaroons, narrow them offline, inspect and verify them.
//!
//! `main` is wiring only: parse flags, call one function per command, map the outcome to
//! an exit code with a fixed meaning (0 ok, 1 denied, 2 bad usage or bad input).

mod cli;
mod commands;
mod input;
mod issuer;
mod output;
mod store;
mod time;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::store::Store;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done, or allowed.
    Success,
    /// A verification denied the request.
    Denied,
    /// Bad usage or bad input.
    Error,
    /// A command run by `exec` could not start (126 cannot execute, 127 not found).
    External(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        match s {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Denied => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
            ExitStatus::External(code) => ExitCode::from(code),
        }
    }
}

/// A reader that stops early (`macaroon list --json | head -c1`) ends this process the way
/// it ends `cat` or `ls`: by SIGPIPE, quietly, rather than with a panic from `println!`.
/// Rust ignores SIGPIPE at start-up; the default is restored before anything is written.
fn quiet_on_closed_stdout() {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::signal::{signal, SigHandler, Signal};
        // SAFETY: restoring the default disposition installs no handler; no other thread
        // exists yet.
        #[allow(unsafe_code)]
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }
}

fn main() -> ExitCode {
    // `exec`'s isolating stage: this binary re-run to hide the homes, then become the command.
    #[cfg(target_os = "linux")]
    if let Some(plan) = std::env::var_os(commands::exec::isolate::PLAN_VAR) {
        return commands::exec::isolate::stage(plan);
    }
    quiet_on_closed_stdout();
    // A shell asking for completions (COMPLETE=bash macaroon -- ...) is answered here.
    commands::completions::answer_if_asked();
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages may quote token content: escape what a terminal would act on.
            eprintln!("macaroon: {}", output::clean_lines(&format!("{e:#}")));
            ExitStatus::Error.into()
        }
    }
}

/// A closed stdout (`macaroon list | head -1`) is a normal end, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let home = macaroon_home::locate(cli.home.as_deref())
        .context("no home directory found; pass --home DIR or set MACAROON_HOME")?;
    for warning in macaroon_home::writable_by_others(&home) {
        eprintln!("macaroon: {warning}");
    }
    let store = Store::new(&home);
    match cli.command {
        Command::Wrap(args) => commands::wrap::run(args, &home, &store)?,
        Command::Issuer(args) => match args.action {
            cli::IssuerAction::Show => println!("{}", issuer::load_or_create(&home, &store)?.public()),
        },
        Command::Attenuate(args) => commands::attenuate::run(args, &home, &store)?,
        Command::Discharge(args) => commands::discharge::discharge(args)?,
        Command::Bind(args) => commands::discharge::bind(args, &store)?,
        Command::Inspect(args) => commands::inspect::run(args, &store)?,
        Command::Verify(args) => return commands::verify::run(args, &home, &store),
        Command::Exec(args) => return commands::exec::run(args, &home, &store),
        #[cfg(target_os = "linux")]
        Command::Mount(args) => commands::mount::run(args, &home, store)?,
        #[cfg(not(target_os = "linux"))]
        Command::Mount(_) => anyhow::bail!("macaroon mount needs Linux and FUSE"),
        Command::List(args) => commands::list::run(args, &store)?,
        Command::Rm(args) => commands::rm::run(args, &store)?,
        Command::Completions(args) => commands::completions::run(args)?,
    }
    Ok(ExitStatus::Success)
}
