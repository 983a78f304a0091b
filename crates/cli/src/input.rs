//! Where a token comes from: an argument that is a token, a stored NAME, `-` for stdin,
//! or `$MACAROON_TOKEN` when the argument is omitted. Written once for every command.

use std::io::{IsTerminal, Read};

use anyhow::{bail, Context};
use caveat::Token;

use crate::store::Store;

/// A token and a short label for messages (the stored name, "stdin", or "the argument").
/// The label never contains the token.
pub struct Input {
    /// The decoded token.
    pub token: Token,
    /// Where it came from, for messages.
    pub source: String,
    /// The stored name it was read under, if it came from the store.
    pub name: Option<String>,
}

/// Resolves a token argument.
pub fn read_token(arg: Option<&str>, store: &Store) -> anyhow::Result<Input> {
    let (text, from_env) = match arg {
        Some(a) => (a.to_string(), false),
        None => match std::env::var("MACAROON_TOKEN") {
            Ok(t) if !t.trim().is_empty() => (t, true),
            _ => bail!("no token given: pass a token, a stored NAME or '-' (stdin), or set MACAROON_TOKEN"),
        },
    };
    let text = zeroize::Zeroizing::new(text);
    if text.as_str() == "-" {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("Paste the token, then press Ctrl-D:");
        }
        let mut buf = zeroize::Zeroizing::new(String::new());
        stdin
            .read_to_string(&mut buf)
            .context("could not read the token from stdin")?;
        let token = Token::decode(&buf).context("the token on stdin is not a valid token")?;
        return Ok(Input {
            token,
            source: "stdin".into(),
            name: None,
        });
    }
    if let Some(stored) = store.get(text.trim())? {
        let token = Token::decode(&stored).with_context(|| {
            format!(
                "the stored token {:?} is corrupt; remove it with: macaroon rm {}",
                text.trim(),
                text.trim()
            )
        })?;
        return Ok(Input {
            token,
            source: format!("stored token {:?}", text.trim()),
            name: Some(text.trim().to_string()),
        });
    }
    let source = if from_env {
        "MACAROON_TOKEN"
    } else {
        "the argument"
    };
    match Token::decode(&text) {
        Ok(token) => Ok(Input {
            token,
            source: source.into(),
            name: None,
        }),
        Err(_) if looks_like_name(&text) => bail!(
            "no stored token named {:?}; see the names with: macaroon list, or pass a token itself",
            text.trim()
        ),
        Err(e) => Err(e).with_context(|| format!("{source} is not a valid token")),
    }
}

/// Short and name-shaped: most likely a mistyped stored name rather than a broken token.
fn looks_like_name(text: &str) -> bool {
    text.len() <= 64 && crate::store::check_name(text.trim()).is_ok()
}
