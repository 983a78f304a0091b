//! `macaroon-proxy keygen`: create the proxy keypair that tokens are sealed to.

use std::path::{Path, PathBuf};

use anyhow::Context;
use caveat::ProxyKeyPair;
use macaroon_home::KeyPairFiles;

/// What keygen wrote.
#[derive(Debug)]
pub struct Generated {
    /// The new keypair.
    pub keys: ProxyKeyPair,
    /// Where the private key went.
    pub private_path: PathBuf,
    /// Where the public key went.
    pub public_path: PathBuf,
}

/// Generates a keypair into `home`; refuses to replace one unless `force`.
pub fn keygen(home: &Path, force: bool) -> anyhow::Result<Generated> {
    let keys = ProxyKeyPair::generate();
    let (private_path, public_path) = keys
        .save(home, force)
        .with_context(|| format!("could not write the proxy key into {}", home.display()))?;
    Ok(Generated {
        keys,
        private_path,
        public_path,
    })
}
