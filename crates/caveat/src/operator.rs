//! Operator tokens: the macaroons that open a proxy's admin API.
//!
//! An operator token is a standard V2 macaroon at location [`OPERATOR_LOCATION`] whose
//! identifier is `"op1"` followed by 16 random bytes, and whose root key is
//! HMAC-SHA256(operator key, identifier): the proxy keeps one 32-byte operator key
//! (`operator.key`) and no list of tokens. Its first-party caveats are `operator = NAME`,
//! `role in ROLE...` and `time < T`. Anyone holding one can narrow it offline like any
//! macaroon (`role in read`, an earlier `time <`).
//!
//! The same two caveats on an agent's request token deny (fail closed): they name a
//! person and a role, not a request.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::caveat::Caveat;
use crate::sealed::RootKey;
use crate::token::Token;

/// The first bytes of every operator token's identifier.
pub const OPERATOR_ID_PREFIX: &[u8] = b"op1";
/// The (advisory) location of operator tokens.
pub const OPERATOR_LOCATION: &str = "macaroon:operator";

/// What an operator may do. `approve` and `revoke` include `read`; `admin` includes all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read the API: events, tokens, issuers, approvals.
    Read,
    /// Decide approvals.
    Approve,
    /// Revoke and un-revoke tokens.
    Revoke,
    /// Everything, trusted issuers included.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Read, Role::Approve, Role::Revoke, Role::Admin];

    /// Parses `read`, `approve`, `revoke` or `admin`.
    pub fn parse(text: &str) -> Result<Role, String> {
        match text {
            "read" => Ok(Role::Read),
            "approve" => Ok(Role::Approve),
            "revoke" => Ok(Role::Revoke),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {text:?}; expected read, approve, revoke or admin"
            )),
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Approve => "approve",
            Role::Revoke => "revoke",
            Role::Admin => "admin",
        }
    }

    /// True if holding `self` allows what needs `need`.
    pub fn covers(self, need: Role) -> bool {
        self == need || self == Role::Admin || need == Role::Read
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks an operator name: 1 to 64 of `a-z`, `0-9`, `.`, `_`, `-`.
pub fn check_operator_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an operator name: use 1 to 64 of a-z, 0-9, '.', '_' and '-'"
        ))
    }
}

/// The proxy's operator key: the root of every operator token. Never printed.
#[derive(Clone)]
pub struct OperatorKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OperatorKey(redacted)")
    }
}

impl OperatorKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        OperatorKey(Zeroizing::new(crate::crypto::random()))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        OperatorKey(Zeroizing::new(bytes))
    }

    /// The key's bytes (to write the key file).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The root key of the token whose identifier is `id`.
    fn root(&self, id: &[u8]) -> RootKey {
        RootKey::from_bytes(crate::crypto::hmac(&self.0, id))
    }

    /// Mints an operator token for `name` with `roles`, valid until `expires`.
    pub fn mint(&self, name: &str, roles: &[Role], expires: SystemTime) -> Result<Token, String> {
        check_operator_name(name)?;
        if roles.is_empty() {
            return Err("an operator token needs at least one role".into());
        }
        let mut id = OPERATOR_ID_PREFIX.to_vec();
        id.extend_from_slice(&crate::crypto::random::<16>());
        let token = Token::create(Some(OPERATOR_LOCATION.into()), &self.root(&id), &id);
        // Caveat times are whole seconds.
        let secs = expires.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let expires = UNIX_EPOCH + std::time::Duration::from_secs(secs);
        Ok(token
            .attenuate(&Caveat::Operator(name.to_string()))
            .attenuate(&Caveat::Roles(roles.to_vec()))
            .attenuate(&Caveat::TimeBefore(expires)))
    }

    /// Verifies an operator token at `now`: its signature chain from this key, and every
    /// caveat (each must be `operator =`, `role in`, `time <` or `time >`; all must hold).
    /// The error says what was wrong, never the token.
    pub fn verify(&self, token: &Token, now: SystemTime) -> Result<Operator, String> {
        let id = token.identifier();
        if !id.starts_with(OPERATOR_ID_PREFIX) {
            return Err(
                "this is not an operator token (an agent's token, or another kind of macaroon); \
                        mint one with: macaroon-proxy operator mint --name NAME"
                    .into(),
            );
        }
        if !token.third_party().is_empty() {
            return Err("an operator token cannot carry third-party caveats".into());
        }
        let predicates = crate::verify::verify_chain(token, &self.root(&id), &[])
            .map_err(|_| "the operator token does not verify with this proxy's operator key: it was altered, or minted for another proxy (or before operator.key was replaced)".to_string())?;
        let mut name: Option<String> = None;
        let mut roles: Vec<Vec<Role>> = Vec::new();
        let mut expires: Option<SystemTime> = None;
        for raw in predicates {
            let text = String::from_utf8_lossy(&raw);
            let caveat = Caveat::parse(&text).map_err(|e| {
                format!(
                    "the operator token's caveat {text:?} is not understood ({})",
                    e.message
                )
            })?;
            match caveat {
                Caveat::Operator(n) => match &name {
                    Some(first) if *first != n => {
                        return Err(format!(
                            "the operator token names two operators ({first} and {n}), so it names none"
                        ))
                    }
                    _ => name = Some(n),
                },
                Caveat::Roles(rs) => roles.push(rs),
                Caveat::TimeBefore(t) => {
                    if now >= t {
                        return Err(format!(
                            "the operator token expired at {}; mint a new one with: macaroon-proxy operator mint",
                            crate::caveat::fmt_time(t)
                        ));
                    }
                    expires = Some(expires.map_or(t, |e| e.min(t)));
                }
                Caveat::TimeAfter(t) => {
                    if now <= t {
                        return Err(format!(
                            "the operator token is not valid before {}",
                            crate::caveat::fmt_time(t)
                        ));
                    }
                }
                other => {
                    return Err(format!(
                    "the operator token carries {:?}, which has no meaning for the admin API, so it denies",
                    other.to_string()
                ))
                }
            }
        }
        let name = name.ok_or("the operator token names no operator (no \"operator = NAME\" caveat)")?;
        if roles.is_empty() {
            return Err("the operator token grants no role (no \"role in ROLE...\" caveat)".into());
        }
        Ok(Operator { name, roles, expires })
    }
}

/// A verified operator: who, and what every `role in` caveat together allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// The `operator =` name.
    pub name: String,
    /// Each `role in` caveat's roles: an action must be covered by one of each.
    roles: Vec<Vec<Role>>,
    /// The earliest `time <`.
    pub expires: Option<SystemTime>,
}

impl Operator {
    /// True if every `role in` caveat has a role that covers `need`.
    pub fn may(&self, need: Role) -> bool {
        self.roles.iter().all(|rs| rs.iter().any(|r| r.covers(need)))
    }

    /// What the token allows, as roles (`admin` implies all four are listed).
    pub fn roles(&self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| self.may(*r)).collect()
    }
}

/// `operator = NAME` or `role in ROLE...`, from the words of a caveat.
pub(crate) fn parse_caveat(words: &[(usize, &str)]) -> Result<Caveat, (usize, String)> {
    let (_, field) = words[0];
    let (op_word, example) = if field == "operator" {
        ("=", "operator = alice")
    } else {
        ("in", "role in read")
    };
    match words.get(1) {
        Some(&(_, op)) if op == op_word => {}
        Some(&(at, op)) => {
            return Err((
                at,
                format!("unknown operator {op:?} for {field}; expected {op_word}, e.g. \"{example}\""),
            ))
        }
        None => {
            return Err((
                usize::MAX,
                format!("{field:?} has no operator; expected e.g. \"{example}\""),
            ))
        }
    }
    let values = &words[2..];
    let Some(&(first_at, first)) = values.first() else {
        return Err((
            usize::MAX,
            format!("\"{field} {op_word}\" needs a value, e.g. \"{example}\""),
        ));
    };
    if field == "operator" {
        if let Some(&(at, _)) = values.get(1) {
            return Err((at, "\"operator =\" takes one name".into()));
        }
        check_operator_name(first).map_err(|m| (first_at, m))?;
        return Ok(Caveat::Operator(first.to_string()));
    }
    values
        .iter()
        .map(|&(at, w)| Role::parse(w).map_err(|m| (at, m)))
        .collect::<Result<Vec<_>, _>>()
        .map(Caveat::Roles)
}

/// What `operator =` and `role in` say, for `inspect`.
pub(crate) fn explain(c: &Caveat) -> String {
    match c {
        Caveat::Operator(name) => format!("operator token for {name}"),
        Caveat::Roles(rs) => format!(
            "roles: {}",
            rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hour() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    #[test]
    fn a_minted_token_verifies_with_its_key_only() {
        let key = OperatorKey::generate();
        let t = key.mint("alice", &[Role::Approve], hour()).expect("mint");
        let t = Token::decode(&t.encode()).expect("decode");
        let op = key.verify(&t, SystemTime::now()).expect("verifies");
        assert_eq!(op.name, "alice");
        assert_eq!(op.roles(), [Role::Read, Role::Approve]);
        assert!(!op.may(Role::Admin) && !op.may(Role::Revoke));
        let e = OperatorKey::generate()
            .verify(&t, SystemTime::now())
            .expect_err("wrong key");
        assert!(e.contains("does not verify"), "{e}");
        assert_eq!(t.location().as_deref(), Some(OPERATOR_LOCATION));
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_refused() {
        let key = OperatorKey::generate();
        let t = key.mint("alice", &[Role::Read], hour()).expect("mint");
        // A caveat edited in place (read -> admin), the signature kept.
        let json = t.encode_as(crate::token::WireFormat::V2Json);
        let edited = json.replace("role in read", "role in admin");
        assert_ne!(json, edited, "the caveat is readable in V2JSON");
        let bad = Token::decode(&edited).expect("still a macaroon");
        let e = key.verify(&bad, SystemTime::now()).expect_err("tampered");
        assert!(e.contains("does not verify"), "{e}");
        let later = SystemTime::now() + Duration::from_secs(7200);
        let e = key.verify(&t, later).expect_err("expired");
        assert!(e.contains("expired"), "{e}");
        let foreign = Token::create(None, &RootKey::generate(), b"mk1whatever");
        assert!(key
            .verify(&foreign, SystemTime::now())
            .expect_err("foreign")
            .contains("not an operator token"));
        // Any other caveat denies: it has no meaning here.
        let odd = t.attenuate(&Caveat::parse("method = GET").expect("caveat"));
        assert!(key
            .verify(&odd, SystemTime::now())
            .expect_err("odd")
            .contains("no meaning"));
    }

    #[test]
    fn role_caveats_narrow_and_operator_caveats_must_agree() {
        let key = OperatorKey::generate();
        let admin = key.mint("root", &[Role::Admin], hour()).expect("mint");
        let read = admin.attenuate(&Caveat::parse("role in read").expect("role"));
        let op = key.verify(&read, SystemTime::now()).expect("verifies");
        assert_eq!(op.roles(), [Role::Read]);
        // A second caveat cannot widen.
        let wider = read.attenuate(&Caveat::parse("role in admin approve").expect("role"));
        assert_eq!(
            key.verify(&wider, SystemTime::now()).expect("v").roles(),
            [Role::Read]
        );
        let two = admin.attenuate(&Caveat::parse("operator = mallory").expect("op"));
        assert!(key
            .verify(&two, SystemTime::now())
            .expect_err("two names")
            .contains("two operators"));
        let same = admin.attenuate(&Caveat::parse("operator = root").expect("op"));
        assert!(key.verify(&same, SystemTime::now()).is_ok());
    }

    #[test]
    fn the_caveats_parse_strictly_and_print_back() {
        for ok in [
            "operator = alice",
            "role in read",
            "role in approve read",
            "operator = a.b_c-9",
        ] {
            assert_eq!(Caveat::parse(ok).expect(ok).to_string(), ok);
        }
        for bad in [
            "operator = Alice",
            "operator = a b",
            "operator in a",
            "operator =",
            "role = read",
            "role in",
            "role in root",
        ] {
            assert!(Caveat::parse(bad).is_err(), "{bad}");
        }
        let c = Caveat::parse("role in read").expect("role");
        assert_eq!(c.explain_at(SystemTime::now()), "roles: read");
        assert_eq!(
            Caveat::parse("operator = alice")
                .expect("op")
                .explain_at(SystemTime::now()),
            "operator token for alice"
        );
    }

    #[test]
    fn operator_caveats_deny_on_a_request_token() {
        use crate::request::{Method, Request};
        use crate::{Host, RequestPath};
        let req = Request::new(
            SystemTime::now(),
            Method::new("GET").expect("m"),
            Host::normalize("api.example.com").expect("h"),
            RequestPath::parse("/").expect("p"),
        );
        for c in ["operator = alice", "role in admin"] {
            let why = Caveat::parse(c).expect(c).check(&req).expect_err("denies");
            assert!(why.contains("an operator caveat on a request token"), "{why}");
        }
    }
}
