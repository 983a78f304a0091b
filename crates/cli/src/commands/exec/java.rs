//! Java under `exec`: it reads no proxy or CA variable, only system properties, which the
//! JVM takes from `JAVA_TOOL_OPTIONS`; and it trusts only its own trust store, so the
//! proxy's CA is added to a copy of the JDK's `cacerts` (once per CA and JDK, by the
//! JDK's own `keytool`, kept beside the CA bundle).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The password of every JDK's `cacerts` (public by design: a trust store holds no secret).
const STORE_PASSWORD: &str = "changeit";

/// The JDK in use: `$JAVA_HOME`, else the one whose `java` is on `PATH`.
fn java_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        return Some(h.into());
    }
    let path = std::env::var_os("PATH")?;
    let java = std::env::split_paths(&path)
        .map(|d| d.join("java"))
        .find(|j| j.is_file())?;
    Some(
        std::fs::canonicalize(java)
            .ok()?
            .parent()?
            .parent()?
            .to_path_buf(),
    )
}

/// A trust store in `dir`: the JDK's `cacerts` plus `ca`. `None` (with a note on stderr)
/// when there is no JDK or `keytool` fails; Java then refuses the proxy's certificates.
pub fn truststore(dir: &Path, ca: &Path) -> Option<PathBuf> {
    let home = java_home()?;
    let cacerts = std::fs::canonicalize(home.join("lib/security/cacerts")).ok()?;
    let keytool = home.join("bin/keytool");
    let meta = std::fs::metadata(&cacerts).ok()?;
    let stamp = format!("{}:{}:{:?}", cacerts.display(), meta.len(), meta.modified().ok());
    let digest = <sha2::Sha256 as sha2::Digest>::digest(stamp.as_bytes());
    let store = dir.join(format!("java-{}.jks", hex::encode(&digest[..6])));
    if store.is_file() {
        return Some(store);
    }
    let tmp = dir.join(format!(".java-{}.jks", std::process::id()));
    let made = std::fs::copy(&cacerts, &tmp).is_ok()
        && Command::new(&keytool)
            .args(["-importcert", "-noprompt", "-alias", "macaroon-proxy-ca", "-file"])
            .arg(ca)
            .arg("-keystore")
            .arg(&tmp)
            .args(["-storepass", STORE_PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        && std::fs::rename(&tmp, &store).is_ok();
    if made {
        Some(store)
    } else {
        let _ = std::fs::remove_file(&tmp);
        eprintln!(
            "macaroon: note: could not add the proxy CA to a copy of {} with {}; Java will \
             refuse the proxy's certificates",
            cacerts.display(),
            keytool.display()
        );
        None
    }
}

/// `JAVA_TOOL_OPTIONS`: the user's own, then the proxy (when Java should use one) and the
/// trust store.
pub fn tool_options(proxy: Option<(String, u16)>, store: Option<&Path>) -> Option<OsString> {
    let mut opts: Vec<String> = Vec::new();
    if let Some(existing) = std::env::var_os("JAVA_TOOL_OPTIONS").filter(|v| !v.is_empty()) {
        opts.push(existing.to_string_lossy().into_owned());
    }
    if let Some((host, port)) = proxy {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        opts.push(format!(
            "-Dhttps.proxyHost={host} -Dhttps.proxyPort={port} -Dhttp.proxyHost={host} \
             -Dhttp.proxyPort={port} -Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]"
        ));
    }
    if let Some(store) = store {
        opts.push(format!(
            "-Djavax.net.ssl.trustStore={} -Djavax.net.ssl.trustStorePassword={STORE_PASSWORD}",
            store.display()
        ));
    }
    (!opts.is_empty()).then(|| opts.join(" ").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_proxy_and_the_store() {
        let o = tool_options(Some(("127.0.0.1".into(), 9999)), Some(Path::new("/t/java.jks")))
            .expect("options")
            .to_string_lossy()
            .into_owned();
        assert!(
            o.contains("-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9999"),
            "{o}"
        );
        assert!(o.contains("-Djavax.net.ssl.trustStore=/t/java.jks"), "{o}");
        let o = tool_options(Some(("::1".into(), 8080)), None).expect("options");
        assert!(o.to_string_lossy().contains("-Dhttps.proxyHost=[::1]"));
    }
}
