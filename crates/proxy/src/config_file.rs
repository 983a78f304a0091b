//! `run --config FILE`: a TOML file whose keys are the long flag names of `run`.
//!
//! Generic over clap's definition of [`RunArgs`]: every key is checked against the `run`
//! command's long names and turned back into `--key=value` arguments, which clap then
//! parses with the command line, so a flag added to `run` works in the file with no change
//! here. What the command line (or an environment variable a flag reads) set wins: the
//! file's value for it is left out, and for a repeatable flag any occurrence on the
//! command line replaces the file's whole list.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, FromArgMatches};

use crate::config::{Config, RunArgs};

/// The `run` command as clap defines it (its flags only, no global ones).
pub fn run_command() -> clap::Command {
    RunArgs::augment_args(clap::Command::new("run").no_binary_name(true))
}

/// Flags that have no place in the file, with what to do instead.
fn not_in_file(key: &str) -> Option<&'static str> {
    match key {
        "config" => Some("a config file cannot name another; pass --config FILE on the command line"),
        "home" => Some("the home is not a run setting; set MACAROON_HOME or pass --home DIR"),
        "help" | "version" => Some("not a setting"),
        _ => None,
    }
}

/// One key of the file, where it is and what it holds.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    line: usize,
    value: toml::Value,
    /// The `--key=value` arguments it stands for.
    args: Vec<OsString>,
}

/// A config file, read and checked key by key (not yet merged with the command line).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl ConfigFile {
    /// Reads `path` and checks every key against `run`'s flags and every value's type.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the config file {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses `text` (the contents of `path`).
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Self> {
        let shown = path.display();
        // The TOML parser refuses a key given twice, naming it. Its line is given, not the
        // line's text (which may hold a password in a URL).
        let table: BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> = toml::from_str(text)
            .map_err(|e| {
                let at = e
                    .span()
                    .map(|s| format!(" line {}", line_of(text, s.start)))
                    .unwrap_or_default();
                anyhow::anyhow!(
                    "{shown}{at}: {}; fix the file (TOML, one `key = value` a line)",
                    e.message().trim_end()
                )
            })?;
        let cmd = run_command();
        let mut entries = Vec::new();
        for (key, value) in table {
            let line = line_of(text, key.span().start);
            let key = key.into_inner();
            let at = format!("{shown} line {line}: `{key}`");
            if let Some(why) = not_in_file(&key) {
                anyhow::bail!("{at}: {why}");
            }
            let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(key.as_str())) else {
                anyhow::bail!(
                    "{at} is not a flag of `macaroon-proxy run`; {}",
                    suggest(&cmd, &key)
                );
            };
            let value = value.into_inner();
            let args = to_args(arg, &key, &value)
                .map_err(|want| anyhow::anyhow!("{at} must be {want}, not {}", describe(&value)))?;
            entries.push(Entry {
                key,
                line,
                value,
                args,
            });
        }
        let file = ConfigFile {
            path: path.to_path_buf(),
            entries,
        };
        // Each value through clap's own parser for its flag: a bad one is named with its line.
        file.merge(&CommandLine::default())?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `key = value (line N)` for every key the file sets, in file order.
    pub fn summary(&self) -> Vec<String> {
        let mut e: Vec<&Entry> = self.entries.iter().collect();
        e.sort_by_key(|e| e.line);
        e.iter()
            .map(|e| format!("{} = {} (line {})", e.key, without_passwords(&e.value), e.line))
            .collect()
    }

    /// The `run` flags from this file with `cli` on top, parsed by clap.
    pub fn merge(&self, cli: &CommandLine) -> anyhow::Result<RunArgs> {
        let mut argv: Vec<OsString> = Vec::new();
        for e in self.entries.iter().filter(|e| !cli.set.contains(&e.key)) {
            argv.extend(e.args.iter().cloned());
        }
        argv.extend(cli.args.iter().cloned());
        run_command()
            .try_get_matches_from(argv)
            .and_then(|m| RunArgs::from_arg_matches(&m))
            .map_err(|e| self.blame(clap_message(&e.render().to_string()), cli))
    }

    /// The [`Config`] this file and `cli` make: the same checks `run` makes, binding nothing.
    pub fn config(&self, cli: &CommandLine) -> anyhow::Result<Config> {
        let args = self.merge(cli)?;
        Config::from_args(&args).map_err(|e| self.blame(format!("{e:#}"), cli))
    }

    /// `message` (which names a flag), with the file's line for it when the file set it.
    fn blame(&self, message: String, cli: &CommandLine) -> anyhow::Error {
        let named = |key: &str| {
            let flag = format!("--{key}");
            message.match_indices(&flag).any(|(i, _)| {
                !message[i + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
            })
        };
        match self
            .entries
            .iter()
            .filter(|e| !cli.set.contains(&e.key))
            .find(|e| named(&e.key))
        {
            Some(e) => anyhow::anyhow!(
                "{} line {}: `{}`: {message}; fix the value in the file",
                self.path.display(),
                e.line,
                e.key
            ),
            None => anyhow::anyhow!("{}: {message}", self.path.display()),
        }
    }
}

/// What the command line set for `run`: those flags win over the file.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    /// Long names of the flags the command line (or their environment variable) set.
    set: HashSet<String>,
    /// The command line's own `--key=value` arguments, as given.
    args: Vec<OsString>,
}

impl CommandLine {
    /// Reads what the command line set from `run`'s matches (`value_source`).
    pub fn from_matches(m: &ArgMatches) -> Self {
        let mut me = CommandLine::default();
        for arg in run_command().get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            match m.try_get_raw(id).ok().flatten().and(m.value_source(id)) {
                Some(ValueSource::CommandLine) => {
                    me.set.insert(long.to_string());
                    if !arg.get_action().takes_values() {
                        // A flag: once per time it was given (--verbose counts too).
                        let n = match arg.get_action() {
                            ArgAction::Count => m.get_count(id),
                            _ => 1,
                        };
                        me.args
                            .extend((0..n).map(|_| OsString::from(format!("--{long}"))));
                    } else if let Ok(Some(raw)) = m.try_get_raw(id) {
                        for v in raw {
                            let mut a = OsString::from(format!("--{long}="));
                            a.push(v);
                            me.args.push(a);
                        }
                    }
                }
                // The environment wins over the file too; clap reads it again on merge.
                Some(ValueSource::EnvVariable) => {
                    me.set.insert(long.to_string());
                }
                _ => {}
            }
        }
        me
    }
}

/// Where the `run` settings came from, to derive them again on SIGHUP.
#[derive(Debug, Clone)]
pub enum Source {
    /// The command line alone: nothing to re-read.
    Flags,
    /// `--config FILE`, with what the command line set on top.
    File {
        /// What the command line set (it keeps winning on every reload).
        cli: CommandLine,
        /// The file as last read.
        last: Box<ConfigFile>,
    },
}

impl Source {
    /// Reads the file again and derives the settings from it and the command line, with
    /// the keys whose value the file changed since it was last read: `None` when there is
    /// no file. On an error nothing is kept.
    pub fn reread(&mut self) -> anyhow::Result<Option<(Config, Vec<String>)>> {
        let Source::File { cli, last } = self else {
            return Ok(None);
        };
        let file = ConfigFile::load(&last.path)?;
        let cfg = file.config(cli)?;
        let value = |f: &ConfigFile, k: &str| f.entries.iter().find(|e| e.key == k).map(|e| e.value.clone());
        let mut keys: Vec<String> = file
            .entries
            .iter()
            .chain(&last.entries)
            .map(|e| e.key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys.retain(|k| value(&file, k) != value(last, k) && !cli.set.contains(k));
        **last = file;
        Ok(Some((cfg, keys)))
    }

    /// The config file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Flags => None,
            Source::File { last, .. } => Some(&last.path),
        }
    }
}

/// The `run` settings: from `--config FILE` merged with the command line when one was
/// given, else the command line's alone.
pub fn resolve(args: &RunArgs, run_matches: Option<&ArgMatches>) -> anyhow::Result<(Config, Source)> {
    let Some(path) = &args.config else {
        return Ok((Config::from_args(args)?, Source::Flags));
    };
    let cli = run_matches.map(CommandLine::from_matches).unwrap_or_default();
    let file = ConfigFile::load(path)?;
    let cfg = file.config(&cli)?;
    Ok((
        cfg,
        Source::File {
            cli,
            last: Box::new(file),
        },
    ))
}

/// The `--key=value` arguments for one key, or what the flag wants instead.
fn to_args(arg: &clap::Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    use toml::Value as V;
    let flag = |v: Option<String>| match v {
        Some(v) => OsString::from(format!("--{key}={v}")),
        None => OsString::from(format!("--{key}")),
    };
    let scalar = |v: &V| match v {
        V::String(s) => Some(s.clone()),
        V::Integer(i) => Some(i.to_string()),
        V::Float(f) => Some(f.to_string()),
        V::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match value {
            // `false` leaves the default (the command line cannot turn it off either).
            V::Boolean(b) => Ok(if *b == matches!(arg.get_action(), ArgAction::SetTrue) {
                vec![flag(None)]
            } else {
                Vec::new()
            }),
            _ => Err(format!("true or false (no quotes), e.g. {key} = true")),
        },
        ArgAction::Count => match value {
            V::Integer(n) if (0..=255).contains(n) => Ok((0..*n).map(|_| flag(None)).collect()),
            _ => Err(format!("a small number, e.g. {key} = 1")),
        },
        ArgAction::Append => {
            let want = || format!("a list, e.g. {key} = [\"...\"] (or one value)");
            match value {
                V::Array(items) => items
                    .iter()
                    .map(|v| scalar(v).filter(|_| !v.is_bool()).map(|s| flag(Some(s))))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(want),
                V::String(_) | V::Integer(_) | V::Float(_) => Ok(vec![flag(scalar(value))]),
                _ => Err(want()),
            }
        }
        _ => match value {
            V::String(_) | V::Integer(_) | V::Float(_) => Ok(vec![flag(scalar(value))]),
            V::Boolean(_) if is_bool_valued(arg) => Ok(vec![flag(scalar(value))]),
            _ => Err(format!("one value, e.g. {key} = \"...\" (a string or a number)")),
        },
    }
}

/// True if the flag takes `true`/`false` as its value.
fn is_bool_valued(arg: &clap::Arg) -> bool {
    arg.get_value_parser().type_id() == clap::builder::ValueParser::bool().type_id()
}

/// `v` with the password of any URL in it shown as `***` (`state = "redis://:pw@..."`).
fn without_passwords(v: &toml::Value) -> toml::Value {
    match v {
        toml::Value::String(s) => toml::Value::String(crate::state::store::without_password(s)),
        toml::Value::Array(a) => toml::Value::Array(a.iter().map(without_passwords).collect()),
        other => other.clone(),
    }
}

/// What a TOML value is, for an error message.
fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(_) => "a table".into(),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Datetime(_) => "a date".into(),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::String(s) => format!("the string {s:?}"),
        other => format!("the number {other}"),
    }
}

/// What to write instead of an unknown key.
fn suggest(cmd: &clap::Command, key: &str) -> String {
    let longs: Vec<&str> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| not_in_file(l).is_none())
        .collect();
    let near = key.replace('_', "-").to_ascii_lowercase();
    let near = near.trim_start_matches('-');
    if let Some(l) = longs.iter().find(|l| **l == near) {
        return format!("did you mean `{l}`? (keys are the long flag names, with '-')");
    }
    format!(
        "remove it or use one of the flags of `macaroon-proxy run --help`: {}",
        longs.join(", ")
    )
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// A clap error's message without its "error: " prefix and usage lines, on one line.
fn clap_message(text: &str) -> String {
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<ConfigFile> {
        ConfigFile::parse(Path::new("proxy.toml"), text)
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("refused"))
    }

    /// The flags of `run` parsed from a command line, as `main` does.
    fn cli(args: &[&str]) -> CommandLine {
        let m = run_command().try_get_matches_from(args).expect("flags");
        CommandLine::from_matches(&m)
    }

    fn from_flags(args: &[&str]) -> Config {
        let m = run_command().try_get_matches_from(args).expect("flags");
        Config::from_args(&RunArgs::from_arg_matches(&m).expect("args")).expect("config")
    }

    const FULL: &str = r#"
listen = "127.0.0.1:18080"
admin = "127.0.0.1:19090"
audit-log = "/var/log/macaroon.jsonl"
upstream-ca = ["/etc/ssl/a.pem", "/etc/ssl/b.pem"]
resolve = ["api.example.com=10.0.0.5:443", "other.example.com=10.0.0.6:8443"]
passthrough = ["pypi.org", "files.pythonhosted.org"]
allow-private = true
upstream-timeout = "45s"
max-body = 2048
body-timeout = "5s"
allow-host = ["api.example.com", "*.example.org"]
transparent = false
state = "redis://127.0.0.1:6379/0"
"#;

    /// The same settings from flags and from the file give the same Config.
    #[test]
    fn a_file_and_the_same_flags_make_the_same_config() {
        let file = parse(FULL).expect("parses");
        let from_file = file.config(&CommandLine::default()).expect("config");
        let flags = from_flags(&[
            "--listen",
            "127.0.0.1:18080",
            "--admin",
            "127.0.0.1:19090",
            "--audit-log",
            "/var/log/macaroon.jsonl",
            "--upstream-ca",
            "/etc/ssl/a.pem",
            "--upstream-ca",
            "/etc/ssl/b.pem",
            "--resolve",
            "api.example.com=10.0.0.5:443",
            "--resolve",
            "other.example.com=10.0.0.6:8443",
            "--passthrough",
            "pypi.org,files.pythonhosted.org",
            "--allow-private",
            "--upstream-timeout",
            "45s",
            "--max-body",
            "2048",
            "--body-timeout",
            "5s",
            "--allow-host",
            "api.example.com,*.example.org",
            "--state",
            "redis://127.0.0.1:6379/0",
        ]);
        // Everything Config holds, with the resolve map in a stable order.
        let shown = |mut c: Config| {
            let resolve: BTreeMap<_, _> = std::mem::take(&mut c.resolve).into_iter().collect();
            format!("{c:?} {resolve:?}")
        };
        assert_eq!(shown(from_file), shown(flags));
    }

    /// Every flag of `run` can be a key: a new flag needs no change here.
    #[test]
    fn every_run_flag_is_a_key() {
        for arg in run_command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if not_in_file(long).is_some() {
                continue;
            }
            let e = error(&format!("{long} = {{ nested = 1 }}\n"));
            assert!(e.contains(&format!("`{long}` must be")), "{long}: {e}");
        }
    }

    #[test]
    fn the_command_line_wins_and_replaces_a_repeatable_list() {
        let file = parse(FULL).expect("parses");
        let cfg = file
            .config(&cli(&[
                "--listen",
                "127.0.0.1:0",
                "--allow-host",
                "api.stripe.com",
            ]))
            .expect("config");
        assert_eq!(cfg.listen.port(), 0);
        assert_eq!(
            cfg.allow_hosts,
            vec![crate::config::HostPattern::parse("api.stripe.com").expect("host")]
        );
        // What the command line did not set still comes from the file.
        assert_eq!(cfg.max_body, 2048);
        assert_eq!(cfg.resolve.len(), 2);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line_and_what_to_write() {
        let e = error("listen = \"127.0.0.1:1\"\n\nallow_host = [\"a.example.com\"]\n");
        assert!(e.contains("line 3") && e.contains("`allow_host`"), "{e}");
        assert!(e.contains("did you mean `allow-host`"), "{e}");
        let e = error("# c\nlistn = \"x\"\n");
        assert!(
            e.contains("line 2") && e.contains("`listn`") && e.contains("listen,"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_type_is_named_with_its_line() {
        let e = error("listen = \"127.0.0.1:1\"\nallow-private = \"yes\"\n");
        assert!(e.contains("line 2") && e.contains("true or false"), "{e}");
        let e = error("listen = [\"127.0.0.1:1\"]\n");
        assert!(
            e.contains("line 1") && e.contains("`listen` must be one value"),
            "{e}"
        );
        let e = error("resolve = [true]\n");
        assert!(e.contains("`resolve` must be a list"), "{e}");
        let e = error("[listen]\nport = 1\n");
        assert!(e.contains("line 1") && e.contains("a table"), "{e}");
    }

    #[test]
    fn a_bad_value_is_named_with_its_line() {
        let e = error("max-body = 1\nlisten = \"nowhere\"\n");
        assert!(e.contains("line 2") && e.contains("`listen`"), "{e}");
        let e = error("upstream-timeout = 30\n");
        assert!(e.contains("line 1") && e.contains("`upstream-timeout`"), "{e}");
        // Config's own checks (after clap's) are blamed on the line too.
        let file = parse("\n\nresolve = [\"api.example.com:10.0.0.5:443\"]\n").expect("clap takes strings");
        let e = format!("{:#}", file.config(&CommandLine::default()).expect_err("bad"));
        assert!(e.contains("line 3") && e.contains("HOST=IP:PORT"), "{e}");
    }

    #[test]
    fn a_key_twice_and_config_inside_the_file_are_refused() {
        let e = error("listen = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n");
        assert!(e.contains("line 2") && e.contains("listen"), "{e}");
        let e = error("config = \"other.toml\"\n");
        assert!(e.contains("`config`") && e.contains("command line"), "{e}");
    }

    /// `main` hands over the `run` matches of the whole command (global `--home` and all).
    #[test]
    fn the_command_line_is_read_from_the_whole_commands_matches() {
        let m = <crate::cli::Cli as clap::CommandFactory>::command()
            .try_get_matches_from([
                "macaroon-proxy",
                "--home",
                "/h",
                "run",
                "--config",
                "f.toml",
                "--allow-private",
                "--passthrough",
                "a.example.com,b.example.com",
                "--audit-log",
                "-",
            ])
            .expect("parses");
        let cli = CommandLine::from_matches(m.subcommand_matches("run").expect("run"));
        let mut set: Vec<&str> = cli.set.iter().map(String::as_str).collect();
        set.sort();
        assert_eq!(set, ["allow-private", "audit-log", "config", "passthrough"]);
        let cfg = parse("passthrough = [\"c.example.com\"]\naudit-log = \"/x\"\nmax-body = 7\n")
            .expect("parses")
            .config(&cli)
            .expect("config");
        assert!(cfg.allow_private);
        assert_eq!(cfg.audit_log, "-");
        assert_eq!(cfg.passthrough.len(), 2);
        assert_eq!(cfg.max_body, 7);
    }

    #[test]
    fn a_reread_keeps_the_command_line_and_names_what_changed() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("proxy.toml");
        std::fs::write(&path, "allow-host = [\"a.example.com\"]\nmax-body = 1\n").expect("write");
        let cli = cli(&["--max-body", "5"]);
        let file = ConfigFile::load(&path).expect("load");
        let mut source = Source::File {
            cli,
            last: Box::new(file),
        };
        std::fs::write(
            &path,
            "allow-host = [\"b.example.com\"]\nmax-body = 2\nlisten = \"127.0.0.1:1\"\n",
        )
        .expect("write");
        let (cfg, keys) = source.reread().expect("ok").expect("a file");
        assert_eq!(keys, ["allow-host", "listen"], "max-body is the command line's");
        assert_eq!(cfg.max_body, 5);
        assert_eq!(
            cfg.allow_hosts,
            vec![crate::config::HostPattern::parse("b.example.com").expect("host")]
        );
        // A bad file is an error, and the last good one stays the reference.
        std::fs::write(&path, "allow-host = [\"*.com\"]\n").expect("write");
        let e = format!("{:#}", source.reread().expect_err("bad"));
        assert!(e.contains("line 1") && e.contains("`allow-host`"), "{e}");
        let Source::File { last, .. } = &source else {
            panic!("still a file")
        };
        assert_eq!(last.summary().len(), 3);
    }

    #[test]
    fn the_summary_lists_what_the_file_sets_without_a_password() {
        let s =
            parse("max-body = 10\nlisten = \"127.0.0.1:1\"\nstate = \"redis://:s3cret@10.0.0.5:6379/0\"\n")
                .expect("ok")
                .summary();
        assert_eq!(
            s,
            vec![
                "max-body = 10 (line 1)",
                "listen = \"127.0.0.1:1\" (line 2)",
                "state = \"redis://:***@10.0.0.5:6379/0\" (line 3)"
            ]
        );
    }

    /// A TOML syntax error names the line, not the line's text.
    #[test]
    fn a_syntax_error_names_the_line_without_echoing_it() {
        let e = error("listen = \"127.0.0.1:1\"\nstate = \"redis://:s3cret@h:6379/0\" x\n");
        assert!(e.contains("line 2"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
