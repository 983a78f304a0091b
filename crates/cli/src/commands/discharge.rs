//! `macaroon discharge` and `macaroon bind`: third-party caveats, libmacaroons style.

use std::time::SystemTime;

use anyhow::{bail, Context};
use caveat::Token;

use crate::cli::{BindArgs, DischargeArgs};
use crate::input::read_token;
use crate::store::Store;

/// Runs `discharge`: mints a discharge for `caveat_id` with the shared key.
pub fn discharge(args: DischargeArgs) -> anyhow::Result<()> {
    let DischargeArgs {
        caveat_id,
        key,
        location,
        attenuation,
        format,
    } = args;
    if key.is_empty() {
        bail!("--key is empty: give the key shared with the token's holder");
    }
    let caveats = attenuation.caveats(SystemTime::now())?;
    let d = Token::discharge(location, key.as_bytes(), caveat_id.as_bytes())?;
    let d = caveats.iter().fold(d, |t, c| t.attenuate(c));
    println!("{}", d.encode_as(format.into()));
    Ok(())
}

/// Runs `bind`: prints each discharge bound to the token.
pub fn bind(args: BindArgs, store: &Store) -> anyhow::Result<()> {
    let BindArgs {
        token,
        discharges,
        format,
    } = args;
    let input = read_token(token.token.as_deref(), store)?;
    let wanted: Vec<String> = input.token.third_party().into_iter().map(|c| c.id).collect();
    for (i, text) in discharges.iter().enumerate() {
        let d = Token::decode(text).with_context(|| format!("discharge {} is not a valid token", i + 1))?;
        let id = String::from_utf8_lossy(&d.identifier()).into_owned();
        if !wanted.contains(&id) {
            bail!(
                "discharge {} is for caveat id {id:?}, which this token does not have (it has: {})",
                i + 1,
                if wanted.is_empty() {
                    "none".to_string()
                } else {
                    wanted.join(", ")
                }
            );
        }
        println!("{}", input.token.bind(&d).encode_as(format.into()));
    }
    Ok(())
}
