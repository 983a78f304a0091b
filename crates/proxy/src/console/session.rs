//! Console sessions: logging in with an operator token gives the browser a random session
//! id (the cookie), never the token. The server maps it to the operator (name, roles) and
//! the token's expiry, with a CSRF token the page sends back on every change.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use caveat::Operator;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "macaroon_console";
/// The header the page's JavaScript sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions kept at once; logging in past it ends the one that would end soonest.
const MAX_SESSIONS: usize = 1000;
/// How long a session lasts when its operator token has no expiry.
pub const NO_EXPIRY_LIMIT: Duration = Duration::from_secs(12 * 3600);

/// One logged-in operator.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who, and what their token allows.
    pub op: Operator,
    /// Sent with every POST (a hidden field, or [`CSRF_HEADER`]).
    pub csrf: String,
    /// The operator token's expiry: the session ends then.
    pub expires: SystemTime,
}

impl Session {
    /// True if `sent` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        !sent.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(sent.as_bytes()))
    }
}

/// The sessions, keyed by a digest of the session id (the id itself is kept nowhere).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn random_hex() -> String {
    hex::encode(caveat::random_bytes::<32>())
}

impl Sessions {
    /// Starts a session for `op`: its id (for the cookie) and the session.
    pub fn start(&self, op: Operator, now: SystemTime) -> (String, Session) {
        let expires = op.expires.unwrap_or(now + NO_EXPIRY_LIMIT);
        let id = random_hex();
        let s = Session {
            op,
            csrf: random_hex(),
            expires,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k) {
                map.remove(&k);
            }
        }
        map.insert(key(&id), s.clone());
        (id, s)
    }

    /// The live session with this id, if any (an expired one is dropped).
    pub fn get(&self, id: &str, now: SystemTime) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let k = key(id);
        match map.get(&k) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends the session with this id.
    pub fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key(id));
    }
}

/// The session id in the request's `Cookie` headers, if any.
pub fn cookie_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value for a new session: HttpOnly, SameSite=Strict, Path=/, Secure
/// under TLS, gone when the session ends.
pub fn set_cookie(id: &str, s: &Session, tls: bool, now: SystemTime) -> String {
    let age = s.expires.duration_since(now).unwrap_or_default().as_secs();
    let secure = if tls { "; Secure" } else { "" };
    format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={age}{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use caveat::{OperatorKey, Role};

    fn op(expires: SystemTime) -> Operator {
        let key = OperatorKey::generate();
        let t = key.mint("alice", &[Role::Read], expires).expect("mint");
        key.verify(&t, SystemTime::now()).expect("verify")
    }

    #[test]
    fn a_session_ends_at_the_token_expiry_and_on_logout() {
        let now = SystemTime::now();
        let sessions = Sessions::default();
        let (id, s) = sessions.start(op(now + Duration::from_secs(60)), now);
        assert_eq!(id.len(), 64);
        assert!(sessions.get(&id, now).is_some());
        assert!(
            sessions.get(&id, now + Duration::from_secs(61)).is_none(),
            "expired"
        );
        assert!(sessions.get(&id, now).is_none(), "and forgotten");
        let (id, _) = sessions.start(op(now + Duration::from_secs(60)), now);
        sessions.end(&id);
        assert!(sessions.get(&id, now).is_none());
        assert!(s.csrf_ok(&s.csrf.clone()));
        assert!(!s.csrf_ok(""));
        assert!(!s.csrf_ok("0000"));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_under_tls() {
        let now = SystemTime::now();
        let (id, s) = Sessions::default().start(op(now + Duration::from_secs(60)), now);
        let c = set_cookie(&id, &s, true, now);
        assert!(c.starts_with(&format!("{COOKIE}={id};")));
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure", "Max-Age=5"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!set_cookie(&id, &s, false, now).contains("Secure"));
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            http::HeaderValue::from_str(&format!("a=b; {COOKIE}={id}")).expect("header"),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some(id.as_str()));
    }
}
