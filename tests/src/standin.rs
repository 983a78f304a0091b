//! Stand-ins for real services, written in Python with the real clients' own libraries
//! (botocore's SigV4 verifier, an OAuth2 token endpoint): a certificate for the hosts they
//! play, signed by a test CA the proxy is told to trust, and a process that binds port 0
//! and prints `PORT n` once it listens (no sleeps, no fixed ports).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A CA and a leaf certificate for some hosts, as PEM files.
pub struct TlsFiles {
    /// The CA certificate (give it to the proxy with --upstream-ca).
    pub ca: PathBuf,
    /// The leaf certificate.
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
}

/// Writes a fresh CA and a leaf for `hosts` into `dir`.
pub fn tls_files(dir: &Path, hosts: &[&str]) -> TlsFiles {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "macaroon e2e stand-in CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let files = TlsFiles {
        ca: dir.join("standin-ca.pem"),
        cert: dir.join("standin-cert.pem"),
        key: dir.join("standin-key.pem"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).expect("write ca");
    std::fs::write(&files.cert, leaf.pem()).expect("write cert");
    std::fs::write(&files.key, leaf_key.serialize_pem()).expect("write key");
    files
}

/// A running stand-in, killed when dropped.
pub struct StandIn {
    child: Child,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    /// Its certificate files.
    pub tls: TlsFiles,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl StandIn {
    /// Runs `python3 script --cert C --key K args...` for `hosts` and waits for its
    /// `PORT n` line.
    pub fn start(script: &Path, hosts: &[&str], args: &[&str]) -> StandIn {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = tls_files(dir.path(), hosts);
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--cert")
            .arg(&tls.cert)
            .arg("--key")
            .arg(&tls.key)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python3 stand-in");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("PORT ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port.trim().parse::<u16>().ok());
                    }
                }
                sink.lock().expect("log").push_str(&format!("{line}\n"));
            }
        });
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("log").push_str(&format!("{line}\n"));
            }
        });
        let port = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("the stand-in did not start:\n{}", log.lock().expect("log")));
        StandIn {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            tls,
            log,
            _dir: dir,
        }
    }

    /// Everything it printed so far (one line per request it judged).
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
