//! `macaroon completions`: shell completions that ask `macaroon` itself what to offer.
//!
//! Stored token names change with every `wrap` and `rm`, so no script written once can
//! list them. The scripts are clap_complete's dynamic ones instead: on TAB the shell runs
//! `COMPLETE=<shell> macaroon -- <the words so far>`, and `macaroon` answers from the same
//! flag definitions as ever, plus the stored names wherever a token or a NAME goes (read
//! from the index, never the tokens). Scripts that want the names alone use
//! `macaroon list --names`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::env::Shells;
use clap_complete::CompletionCandidate;

use crate::cli::CompletionsArgs;

/// The environment variable that puts `macaroon` in completion mode.
const VAR: &str = "COMPLETE";

/// Answers a shell's completion request and exits, when `COMPLETE` is set; returns
/// otherwise. Called before anything else reads the arguments or writes to stdout.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(crate::cli::Cli::command)
        .var(VAR)
        .complete();
}

/// Prints the script that registers completions for `shell` on stdout. The script calls
/// `macaroon` by name (found on PATH), so the committed copies do not depend on where
/// this binary was built.
pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let name = args.shell.to_string();
    let shells = Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        anyhow::bail!("no completions for {name}; use one of bash, elvish, fish, powershell, zsh");
    };
    let mut out = std::io::stdout().lock();
    completer.write_registration(VAR, "macaroon", "macaroon", "macaroon", &mut out)?;
    Ok(())
}

/// The stored token names, offered where a token or a stored NAME goes.
pub fn stored_names() -> Vec<CompletionCandidate> {
    let Some(home) = macaroon_home::locate(home_flag(std::env::args_os()).as_deref()) else {
        return Vec::new();
    };
    // A missing or broken index completes nothing: a TAB is no place for an error.
    macaroon_home::tokens::read_index(&home)
        .map(|index| {
            index
                .into_values()
                .map(|e| CompletionCandidate::new(e.name).help(Some(e.hosts.join(", ").into())))
                .collect()
        })
        .unwrap_or_default()
}

/// The `--home DIR` (or `--home=DIR`) among the words being completed, so names come
/// from the home the command line names.
fn home_flag(args: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    let mut args = args.skip_while(|a| a != "--");
    let mut found = None;
    while let Some(a) = args.next() {
        if a == "--home" {
            found = args.next().map(PathBuf::from);
        } else if let Some(dir) = a.to_str().and_then(|a| a.strip_prefix("--home=")) {
            found = Some(PathBuf::from(dir));
        }
    }
    found.filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> impl Iterator<Item = OsString> {
        w.iter().map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn the_home_named_on_the_command_line_is_where_names_come_from() {
        let h = |w: &[&str]| home_flag(words(w));
        assert_eq!(h(&["macaroon", "--", "macaroon", "inspect", "s"]), None);
        assert_eq!(
            h(&["macaroon", "--", "macaroon", "--home", "/h", "inspect", "s"]),
            Some(PathBuf::from("/h"))
        );
        assert_eq!(
            h(&["macaroon", "--", "macaroon", "inspect", "--home=/x", ""]),
            Some(PathBuf::from("/x"))
        );
        // The completer's own arguments before `--` are not the user's.
        assert_eq!(
            h(&["macaroon", "--home", "/no", "--", "macaroon", "rm", ""]),
            None
        );
    }
}
