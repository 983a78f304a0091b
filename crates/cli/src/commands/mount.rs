//! `macaroon mount DIR --token NAME...`: a read-only FUSE directory with one file per named
//! token (never every stored one: a mount is handed to a script, which should see only the
//! keys it was meant to use). Opening a file mints a fresh, short-lived token narrowed by
//! the flags and the file's policy, so a
//! script that reads `~/tokens/stripe` where it would read a key file gets a token that
//! expires in minutes. Every open is audited.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use fuser::{
    FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen,
};
use serde::Deserialize;

use crate::cli::{Attenuation, MountArgs};
use crate::store::Store;

const TTL: Duration = Duration::from_secs(1);
const ROOT: u64 = fuser::FUSE_ROOT_ID;
const DEFAULT_EXPIRES: &str = "5m";

/// One file's policy in the config.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct FilePolicy {
    /// Lifetime of each token read (e.g. "5m").
    pub expires: Option<String>,
    /// Path prefixes allowed.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Methods allowed.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Any other caveats, in the caveat language.
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// The mount config (`$MACAROON_HOME/mount.toml` by default).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct MountConfig {
    /// Default lifetime for files without their own.
    pub expires: Option<String>,
    /// Per-file policies, by stored token name.
    #[serde(default)]
    pub files: HashMap<String, FilePolicy>,
}

impl FilePolicy {
    /// The file's own caveats, added to the flags' (its `expires` too: the earlier wins).
    fn attenuation(&self) -> Attenuation {
        Attenuation {
            expires: self.expires.clone(),
            paths: self.paths.clone(),
            methods: self.methods.clone(),
            caveats: self.caveats.clone(),
            ..Attenuation::default()
        }
    }
}

struct Entry {
    name: String,
    /// The flags' caveats, then the file's policy: every read carries both.
    attenuations: [Attenuation; 2],
    /// The length of a token read from it (the same for every read: the caveats are the
    /// same, and a time is always written in as many characters).
    size: u64,
}

struct TokenFs {
    entries: Vec<Entry>,
    store: Store,
    open: HashMap<u64, Vec<u8>>,
    next_fh: u64,
    log: std::fs::File,
    uid: u32,
    gid: u32,
    started: SystemTime,
}

impl TokenFs {
    fn attr(&self, ino: u64) -> FileAttr {
        let dir = ino == ROOT;
        FileAttr {
            ino,
            size: self.entry(ino).map_or(0, |e| e.size),
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind: if dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            },
            perm: if dir { 0o500 } else { 0o400 },
            nlink: if dir { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn entry(&self, ino: u64) -> Option<&Entry> {
        ino.checked_sub(ROOT + 1)
            .and_then(|i| self.entries.get(i as usize))
    }

    /// A fresh narrowed token for `entry`, and a line for the audit log.
    fn mint(&self, entry: &Entry) -> anyhow::Result<(String, String)> {
        let now = SystemTime::now();
        let mut caveats = entry.attenuations[0].caveats(now)?;
        caveats.extend(entry.attenuations[1].caveats(now)?);
        let stored = self.store.get(&entry.name)?.context("the stored token is gone")?;
        let token = caveats
            .iter()
            .fold(caveat::Token::decode(&stored)?, |t, c| t.attenuate(c));
        let expires = caveats
            .iter()
            .filter_map(|c| match c {
                caveat::Caveat::TimeBefore(t) => Some(*t),
                _ => None,
            })
            .min()
            .map(caveat::fmt_time);
        let line = serde_json::json!({
            "time": caveat::fmt_time(now), "file": entry.name,
            "token": token.signature_fingerprint(), "expires": expires,
        });
        Ok((token.encode(), line.to_string()))
    }

    fn audit(&mut self, mut line: serde_json::Value, req: &fuser::Request<'_>) {
        line["pid"] = req.pid().into();
        line["uid"] = req.uid().into();
        let _ = writeln!(self.log, "{line}");
    }
}

impl Filesystem for TokenFs {
    fn lookup(&mut self, _req: &fuser::Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        match self.entries.iter().position(|e| OsStr::new(&e.name) == name) {
            Some(i) if parent == ROOT => reply.entry(&TTL, &self.attr(ROOT + 1 + i as u64), 0),
            _ => reply.error(libc_enoent()),
        }
    }

    fn getattr(&mut self, _req: &fuser::Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        if ino == ROOT || self.entry(ino).is_some() {
            reply.attr(&TTL, &self.attr(ino));
        } else {
            reply.error(libc_enoent());
        }
    }

    fn readdir(
        &mut self,
        _req: &fuser::Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        if ino != ROOT {
            return reply.error(libc_enoent());
        }
        let mut all = vec![
            (ROOT, FileType::Directory, ".".to_string()),
            (ROOT, FileType::Directory, "..".to_string()),
        ];
        for (i, e) in self.entries.iter().enumerate() {
            all.push((ROOT + 1 + i as u64, FileType::RegularFile, e.name.clone()));
        }
        for (i, (ino, kind, name)) in all.into_iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(ino, (i + 1) as i64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn open(&mut self, req: &fuser::Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        // Read-only: any write access is refused.
        if flags & 0b11 != 0 {
            return reply.error(13); // EACCES
        }
        let Some(entry) = self.entry(ino) else {
            return reply.error(libc_enoent());
        };
        match self.mint(entry) {
            Ok((token, line)) => {
                let line: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                self.audit(line, req);
                let fh = self.next_fh;
                self.next_fh += 1;
                self.open.insert(fh, format!("{token}\n").into_bytes());
                // Direct I/O: the size changes with every token, so bypass the page cache.
                reply.opened(fh, fuser::consts::FOPEN_DIRECT_IO);
            }
            Err(e) => {
                let name = entry.name.clone();
                self.audit(serde_json::json!({"time": caveat::fmt_time(SystemTime::now()), "file": name, "error": format!("{e:#}")}), req);
                reply.error(5); // EIO
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &mut self,
        _req: &fuser::Request<'_>,
        _ino: u64,
        fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock: Option<u64>,
        reply: ReplyData,
    ) {
        let Some(data) = self.open.get(&fh) else {
            return reply.error(9); // EBADF
        };
        let start = (offset.max(0) as usize).min(data.len());
        let end = (start + size as usize).min(data.len());
        reply.data(&data[start..end]);
    }

    fn release(
        &mut self,
        _req: &fuser::Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        _lock: Option<u64>,
        _flush: bool,
        reply: fuser::ReplyEmpty,
    ) {
        if let Some(mut data) = self.open.remove(&fh) {
            zeroize::Zeroize::zeroize(&mut data);
        }
        reply.ok();
    }
}

fn libc_enoent() -> i32 {
    2
}

/// Reads and checks the config: every policy must turn into valid caveats now.
pub fn load_config(path: &Path, explicit: bool) -> anyhow::Result<MountConfig> {
    let config: MountConfig = match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .with_context(|| format!("{} is not a valid mount config", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => MountConfig::default(),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    if let Some(expires) = &config.expires {
        Attenuation {
            expires: Some(expires.clone()),
            ..Attenuation::default()
        }
        .caveats(SystemTime::now())
        .with_context(|| format!("the default expires in {}", path.display()))?;
    }
    for (name, p) in &config.files {
        p.attenuation()
            .caveats(SystemTime::now())
            .with_context(|| format!("the policy for {name:?} in {}", path.display()))?;
    }
    Ok(config)
}

/// The named tokens, once each; every one must be stored, and every policy in the config
/// must be for one of them.
fn mounted_names(
    tokens: &[String],
    store: &Store,
    config: &MountConfig,
    config_path: &Path,
) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for name in tokens {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    for name in &names {
        if store.get(name)?.is_none() {
            bail!("{name:?} is not a stored token (see: macaroon list)");
        }
    }
    for name in config.files.keys() {
        if !names.contains(name) {
            bail!(
                "{} has a policy for {name:?}, which is not mounted; add --token {name}",
                config_path.display()
            );
        }
    }
    Ok(names)
}

/// The audit log of reads, appended, created 0600.
fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("could not open {}", path.display()))
}

/// One file: the flags' caveats and the file's policy. Without --expires, the file's own
/// lifetime (else the config's default) is the one; with it, both hold.
fn entry(name: &str, flags: &Attenuation, config: &MountConfig, default_expires: &str) -> Entry {
    let mut own = flags.clone();
    let mut policy = config
        .files
        .get(name)
        .map(FilePolicy::attenuation)
        .unwrap_or_default();
    // Labelled with the file name unless --label says otherwise (last: it only names).
    if own.label.is_none() {
        policy.label = crate::commands::attenuate::default_label(name);
    }
    if own.expires.is_none() {
        own.expires = Some(
            policy
                .expires
                .take()
                .unwrap_or_else(|| default_expires.to_string()),
        );
    }
    Entry {
        name: name.to_string(),
        attenuations: [own, policy],
        size: 0,
    }
}

/// Runs `mount` until SIGINT or SIGTERM, then unmounts.
pub fn run(args: MountArgs, home: &Path, store: Store) -> anyhow::Result<()> {
    let MountArgs {
        dir,
        tokens,
        attenuation: flags,
        config: config_path,
    } = args;
    let dir = dir.as_path();
    let explicit = config_path.is_some();
    let config_path = config_path.unwrap_or_else(|| home.join("mount.toml"));
    let config = load_config(&config_path, explicit)?;
    let default_expires = config.expires.clone().unwrap_or_else(|| DEFAULT_EXPIRES.into());
    let shown_expires = flags.expires.clone().unwrap_or_else(|| default_expires.clone());
    flags
        .caveats(SystemTime::now())
        .context("the attenuation flags")?;
    let names = mounted_names(&tokens, &store, &config, &config_path)?;
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("{} is not a directory to mount on", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let log_path = home.join("mount.log");
    let log = open_log(&log_path)?;
    let entries = names
        .iter()
        .map(|n| entry(n, &flags, &config, &default_expires))
        .collect();
    use std::os::unix::fs::MetadataExt;
    let mut fs = TokenFs {
        entries,
        store,
        open: HashMap::new(),
        next_fh: 1,
        log,
        uid: meta.uid(),
        gid: meta.gid(),
        started: SystemTime::now(),
    };
    for i in 0..fs.entries.len() {
        let (token, _) = fs.mint(&fs.entries[i])?;
        fs.entries[i].size = token.len() as u64 + 1;
    }
    let options = [
        MountOption::RO,
        MountOption::FSName("macaroon".into()),
        MountOption::NoExec,
        MountOption::NoSuid,
    ];
    let mut signals =
        signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
            .context("could not install signal handlers")?;
    let session = fuser::spawn_mount2(fs, dir, &options).with_context(|| {
        format!(
            "could not mount on {} (is /dev/fuse available and fusermount3 installed?)",
            dir.display()
        )
    })?;
    eprintln!(
        "Mounted {} token file(s) at {}; each read is a fresh token ({} unless configured). Audit: {}. Ctrl-C to unmount.",
        names.len(),
        dir.display(),
        shown_expires,
        log_path.display()
    );
    let _ = signals.forever().next();
    drop(session);
    eprintln!("Unmounted {}.", dir.display());
    Ok(())
}
