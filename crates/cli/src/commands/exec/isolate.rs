//! Isolation for `macaroon exec` (Linux): the command holds its token and nothing more.
//!
//! The command runs as the same user who wrapped the keys, so without help it could read
//! every root token, the issuer and proxy keys, and the keyring. `exec` therefore re-runs
//! its own binary with a [`Plan`] in the environment: a fresh, single-threaded image that
//! never read a root token (unsharing a user namespace needs one thread). That stage hides
//! what the plan names, then replaces itself with the command:
//!
//! 1. New user and mount namespaces. Each macaroon home is covered by an empty read-only
//!    tmpfs, the session bus socket and keyring directory by empty ones, and the directory
//!    holding the CA bundle is bound read-only. Then a second, nested pair of namespaces:
//!    the mounts made in the first become locked, so not even the capabilities the command
//!    holds inside its own namespace can unmount them.
//! 2. A Landlock domain on top, where the kernel has Landlock: a process inside cannot
//!    trace one outside it, so `/proc/PID/root/...` of the user's shell does not lead back
//!    into the home, and (Landlock ABI 6) it cannot reach an abstract unix socket made
//!    outside, such as an abstract session bus.
//! 3. Where user namespaces are refused, Landlock alone: every path is allowed except the
//!    homes (listing or creating entries directly in a home's parent directories is denied
//!    too, since a Landlock rule on a directory covers everything beneath it).
//!
//! Where neither works the stage refuses (exit 2), naming `--no-isolate`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

/// The environment variable that carries the [`Plan`] to the isolating stage.
pub const PLAN_VAR: &str = "MACAROON_EXEC_ISOLATE";

/// What the isolating stage hides; built by `exec`, carried as JSON in [`PLAN_VAR`].
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Directories covered by an empty read-only directory (canonical paths).
    pub cover: Vec<PathBuf>,
    /// Sockets, files or directories covered by an empty one (the keyring's session bus).
    pub hide: Vec<PathBuf>,
    /// Directories the command reads but may not change (where its CA bundle is).
    pub read_only: Vec<PathBuf>,
    /// Mechanisms to treat as refused by the system, to exercise the fallbacks in tests:
    /// `userns`, `landlock`. It can only take isolation away and then make exec refuse.
    #[serde(default)]
    pub refuse: Vec<String>,
    /// `--sandbox`: a network namespace whose only way out is the proxy.
    #[serde(default)]
    pub sandbox: Option<super::sandbox::Sandbox>,
}

/// How the command was isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// User and mount namespaces (with a Landlock domain where the kernel has one).
    Namespaces,
    /// Landlock rules alone.
    Landlock,
}

/// The isolating stage: applies `plan` (JSON), then replaces this process with the
/// command in the arguments. Returns only on failure.
pub fn stage(plan: OsString) -> ExitCode {
    let plan: Plan = match plan.to_str().map(serde_json::from_str) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!(
                "macaroon: {PLAN_VAR} does not hold an isolation plan; run the command with `macaroon exec`"
            );
            return ExitCode::from(2);
        }
    };
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("macaroon: no command to run");
        return ExitCode::from(2);
    };
    if let Some(sandbox) = &plan.sandbox {
        return super::sandbox::run(&plan, sandbox, program, args.collect());
    }
    if let Err(reasons) = apply(&plan) {
        eprintln!(
            "macaroon: exec cannot hide the macaroon home from the command ({}); \
             run it as another user or in a container, or pass --no-isolate to run it \
             anyway (it could then read every root token and key in the home)",
            reasons.join("; ")
        );
        return ExitCode::from(2);
    }
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&program)
        .args(args)
        .env_remove(PLAN_VAR)
        .exec();
    eprintln!("macaroon: could not run {}: {err}", program.to_string_lossy());
    ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

/// Isolates this process as `plan` says; the reasons each mechanism failed otherwise.
pub fn apply(plan: &Plan) -> Result<Isolation, Vec<String>> {
    let refused = |m: &str| plan.refuse.iter().any(|r| r == m);
    let mut reasons = Vec::new();
    if refused("userns") {
        reasons.push("user namespaces: refused".to_string());
    } else {
        match namespaces(plan) {
            Ok(()) => {
                // Best effort on top: a kernel without Landlock still gets the namespaces.
                if !refused("landlock") {
                    let _ = landlock_scope();
                }
                return Ok(Isolation::Namespaces);
            }
            Err(e) => reasons.push(format!("user namespaces: {e}")),
        }
    }
    if refused("landlock") {
        reasons.push("Landlock: refused".to_string());
    } else {
        match landlock_rules(plan) {
            Ok(()) => return Ok(Isolation::Landlock),
            Err(e) => reasons.push(format!("Landlock: {e}")),
        }
    }
    Err(reasons)
}

/// Unshares a user namespace (and `more`), mapping `inside` ids to this process's ids.
pub(super) fn enter_user_namespace(
    more: nix::sched::CloneFlags,
    inside: (u32, u32),
    outside: (u32, u32),
) -> Result<(), String> {
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWUSER | more).map_err(|e| format!("unshare: {e}"))?;
    // setgroups must be denied before an unprivileged gid_map; a nested namespace
    // inherits "deny", and writing it again is allowed.
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/uid_map", &format!("{} {} 1", inside.0, outside.0))?;
    write_proc("/proc/self/gid_map", &format!("{} {} 1", inside.1, outside.1))
}

fn write_proc(path: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))
}

/// This process's user and group ids.
pub(super) fn ids() -> (u32, u32) {
    (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
}

fn namespaces(plan: &Plan) -> Result<(), String> {
    use nix::sched::CloneFlags;
    let me = ids();
    enter_user_namespace(CloneFlags::CLONE_NEWNS, me, me)?;
    hide(plan)?;
    // A second user namespace locks every mount above in place (the kernel will not let
    // a less privileged namespace unmount what would reveal the paths beneath).
    enter_user_namespace(CloneFlags::CLONE_NEWNS, me, me)
}

/// In a new mount namespace: covers, hides and binds read-only what `plan` names.
pub(super) fn hide(plan: &Plan) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    let none = None::<&str>;
    // Nothing done here may propagate back to the user's own mount namespace.
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("making / private: {e}"))?;
    let sealed = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    for dir in &plan.read_only {
        mount(
            Some(dir.as_path()),
            dir.as_path(),
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )
        .and_then(|()| {
            mount(
                none,
                dir.as_path(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | sealed,
                none,
            )
        })
        .map_err(|e| format!("binding {} read-only: {e}", dir.display()))?;
    }
    let empty_dir = |dir: &Path| {
        mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC | sealed,
            Some("mode=0555,size=4k,nr_inodes=1"),
        )
    };
    for dir in &plan.cover {
        match empty_dir(dir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(format!("covering {}: {e}", dir.display())),
        }
    }
    for path in &plan.hide {
        let done = match std::fs::symlink_metadata(path) {
            Err(_) => Ok(()),
            Ok(m) if m.is_dir() => empty_dir(path),
            // A socket or file: an empty character device in its place refuses connections.
            Ok(_) => mount(Some("/dev/null"), path.as_path(), none, MsFlags::MS_BIND, none),
        };
        done.map_err(|e| format!("hiding {}: {e}", path.display()))?;
    }
    Ok(())
}

/// A Landlock domain that restricts nothing on files but scopes the process: it cannot
/// trace (or read `/proc/PID/root` of) processes outside, nor reach abstract unix
/// sockets made outside.
pub(super) fn landlock_scope() -> Result<(), String> {
    use landlock::{AccessFs, Ruleset, RulesetAttr, Scope};
    Ruleset::default()
        // Some file right must be handled for a domain to exist; creating block devices
        // is one no command under exec needs.
        .handle_access(AccessFs::MakeBlock)
        .and_then(|r| r.scope(Scope::AbstractUnixSocket))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())
        .and_then(enforced)
}

fn enforced(status: landlock::RestrictionStatus) -> Result<(), String> {
    match status.ruleset {
        landlock::RulesetStatus::NotEnforced => Err("this kernel does not enforce Landlock".to_string()),
        _ => Ok(()),
    }
}

/// Landlock alone: full access beneath every path except the covered ones and their
/// ancestors.
fn landlock_rules(plan: &Plan) -> Result<(), String> {
    use landlock::{
        Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, ABI,
    };
    let abi = ABI::V5;
    let all = AccessFs::from_all(abi);
    let file = AccessFs::from_file(abi);
    let blocked: Vec<PathBuf> = plan.cover.iter().chain(&plan.hide).cloned().collect();
    let mut rules = Vec::new();
    for (path, is_dir) in allowed_paths(&blocked) {
        // A path that vanished meanwhile, or one the kernel cannot describe (a FUSE mount
        // whose daemon died answers ENOTCONN), is simply not allowed: adding it would fail
        // the whole ruleset.
        if let Ok(fd) = PathFd::new(&path) {
            if describable(&fd) {
                rules.push(PathBeneath::new(fd, if is_dir { all } else { all & file }));
            }
        }
    }
    Ruleset::default()
        .handle_access(all)
        .and_then(|r| r.scope(Scope::AbstractUnixSocket))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(rules.into_iter().map(Ok::<_, landlock::RulesetError>)))
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())
        .and_then(enforced)
}

/// Whether `fstat` succeeds on `fd`, as the Landlock crate's rule check needs.
fn describable(fd: &impl std::os::fd::AsFd) -> bool {
    use std::os::fd::AsRawFd;
    nix::sys::stat::fstat(fd.as_fd().as_raw_fd()).is_ok()
}

/// Every entry of the blocked paths' ancestors that neither is, holds nor leads to a
/// blocked path (a symbolic link is judged by where it points), with whether it is a
/// directory.
pub fn allowed_paths(blocked: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    let mut ancestors = BTreeSet::new();
    for b in blocked {
        ancestors.extend(b.ancestors().skip(1).map(Path::to_path_buf));
    }
    let touches = |p: &Path| blocked.iter().any(|b| p.starts_with(b) || b.starts_with(p));
    let mut allowed = Vec::new();
    for dir in &ancestors {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if ancestors.contains(&path) || touches(&path) {
                continue;
            }
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue;
            };
            if touches(&real) {
                continue;
            }
            allowed.push((path, real.is_dir()));
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_round_trips_through_the_environment_shape() {
        let plan = Plan {
            cover: vec!["/home/a/.config/macaroon".into()],
            hide: vec!["/run/user/1000/bus".into()],
            read_only: vec!["/run/user/1000/macaroon-exec".into()],
            refuse: vec!["userns".into()],
            sandbox: None,
        };
        let text = serde_json::to_string(&plan).expect("json");
        assert_eq!(serde_json::from_str::<Plan>(&text).expect("parse"), plan);
    }

    #[test]
    fn allowed_paths_skip_the_blocked_path_its_ancestors_and_links_into_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("canonical");
        let home = root.join("user/.config/macaroon");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(root.join("user/work")).expect("work");
        std::fs::write(root.join("user/.bashrc"), "").expect("file");
        std::fs::create_dir_all(root.join("user/.config/other")).expect("other");
        std::os::unix::fs::symlink(&home, root.join("user/link-to-home")).expect("link");
        std::os::unix::fs::symlink(root.join("user"), root.join("link-to-user")).expect("link");
        let allowed = allowed_paths(std::slice::from_ref(&home));
        let has = |p: &Path| allowed.iter().any(|(a, _)| a == p);
        assert!(has(&root.join("user/work")));
        assert!(has(&root.join("user/.bashrc")));
        assert!(has(&root.join("user/.config/other")));
        assert!(!has(&home));
        assert!(!has(&root.join("user")), "an ancestor is never allowed whole");
        assert!(!has(&root.join("user/.config")));
        assert!(!has(&root.join("user/link-to-home")), "a link into the home");
        assert!(!has(&root.join("link-to-user")), "a link to an ancestor");
        let bashrc = allowed.iter().find(|(a, _)| a == &root.join("user/.bashrc"));
        assert_eq!(bashrc.map(|(_, d)| *d), Some(false));
    }
}
