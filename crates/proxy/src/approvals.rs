//! Approvals: a request whose token carries an approval caveat, and passes everything
//! else, is held while a person decides. Deciding "yes" mints a discharge macaroon for the
//! caveat, narrowed to what was approved (one exact request, or a window); the proxy keeps
//! it here and attaches it to later requests of the same caveat, where the ordinary
//! discharge verification checks it. So nothing but the macaroon chain says a request was
//! approved.
//!
//! Held requests are futures waiting on a `watch` channel (no thread each), at most
//! [`MAX_PENDING_PER_FAMILY`] open approvals per token family, and the same request sent
//! again (an SDK's retry) joins the open approval instead of filing a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use caveat::{ApprovalCaveat, ApprovalScope, Caveat, Method, RequestPath, Token};
use serde::Serialize;
use tokio::sync::watch;

use crate::state::store::Unavailable;

/// How long a request is held for a decision unless `--approval-wait` says otherwise:
/// under boto3's 60 s read timeout and Stripe's 80 s.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(50);
/// How long an undecided approval stays open unless `--approval-ttl` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Open approvals one token family may have at once; more are refused (429).
pub const MAX_PENDING_PER_FAMILY: usize = 32;
/// How much of a request body an approver sees.
pub const BODY_SHOWN: usize = 8 * 1024;
/// How long a `once` approval's discharge lives if its request is not retried.
pub const ONCE_LIFETIME: Duration = Duration::from_secs(600);
/// Decided approvals kept for `approvals list` (the oldest go first).
const KEEP_DECIDED: usize = 1000;

/// Where an approval stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a person.
    Pending,
    /// Approved: a discharge was minted.
    Approved,
    /// Denied, with a reason.
    Denied,
    /// Not decided within `--approval-ttl`.
    Expired,
}

/// What an approver sees of a held request, and how it was decided (`GET /api/approvals`,
/// `approvals list --json`). Never a header, never the token.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Approval {
    /// 8 readable characters.
    pub id: String,
    /// Where it stands.
    pub state: State,
    /// When it was filed (RFC 3339).
    pub created: String,
    /// The issuer's name.
    pub issuer: Option<String>,
    /// The token's labels, in chain order.
    pub labels: Vec<String>,
    /// The token family.
    pub kid: String,
    /// The client's address.
    pub client: String,
    /// The request.
    pub method: String,
    /// The host it is for.
    pub host: String,
    /// The path.
    pub path: String,
    /// The raw query, if any.
    pub query: Option<String>,
    /// Up to 8 KiB of the body, as text (JSON pretty-printed), if it has one.
    pub body: Option<String>,
    /// What an approval covers (`once`, `10m`), as the token's caveat asks.
    pub scope: String,
    /// Who decided (an operator's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The approver's note, or the reason for a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was approved: a window's end, method and path prefix, or the one request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<String>,
}

impl Approval {
    /// Who asked, as the delegation path reads: `alice > ops > billing-skill`.
    pub fn who(&self) -> String {
        match (&self.issuer, self.labels.is_empty()) {
            (Some(i), false) => format!("{i} > {}", self.labels.join(" > ")),
            (Some(i), true) => i.clone(),
            (None, _) => self.labels.join(" > "),
        }
    }

    /// The request held: `POST https://api.example.com/v1/refunds?x=1`.
    pub fn request(&self) -> String {
        let query = self.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
        format!("{} https://{}{}{query}", self.method, self.host, self.path)
    }
}

/// An approver's answer.
#[derive(Clone, Debug)]
pub enum Answer {
    /// Approve: for a window (`--for`, default the caveat's scope), optionally narrower
    /// than the request (a method, a path prefix); or once.
    Approve {
        /// A window instead of the caveat's own scope.
        window: Option<Duration>,
        /// The method allowed in a window (default: the request's).
        method: Option<String>,
        /// The path prefix allowed in a window (default: the request's path).
        path: Option<String>,
        /// A note kept with the decision.
        note: Option<String>,
    },
    /// Deny, saying why.
    Deny {
        /// Shown to the agent in the 403.
        reason: Option<String>,
    },
}

/// Why an answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// No approval has this id.
    #[error("no approval {0}: see the open ones with `macaroon-proxy approvals list`")]
    Unknown(String),
    /// It was decided already (or expired).
    #[error("approval {0} is already {1}")]
    Decided(String, &'static str),
    /// The narrowing asked for is not valid.
    #[error("{0}")]
    Bad(String),
    /// The caveat could not be opened any more (the proxy key was removed).
    #[error("approval {0}'s caveat cannot be opened with this proxy's keys")]
    Sealed(String),
    /// The shared store cannot be asked.
    #[error("{0}")]
    Unavailable(Unavailable),
}

/// A discharge kept for a caveat.
struct Granted {
    discharge: Token,
    /// For `once`: the one request it allows (taken when used).
    once: Option<[u8; 32]>,
    until: SystemTime,
}

struct Entry {
    view: Approval,
    caveat_id: Vec<u8>,
    dedupe: [u8; 32],
    tx: watch::Sender<State>,
    /// The request itself, for the discharge's narrowing.
    request_digest: [u8; 32],
    filed: SystemTime,
    /// The discharge approving minted (kept for `approvals show --discharge` after use).
    minted: Option<Token>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    open: HashMap<[u8; 32], String>,
    granted: HashMap<[u8; 32], Vec<Granted>>,
    order: std::collections::VecDeque<String>,
}

/// The approvals of this proxy.
pub struct Approvals {
    inner: Mutex<Inner>,
    /// `--approval-ttl`, in milliseconds (a reload changes it).
    ttl_ms: std::sync::atomic::AtomicU64,
    /// The shared store (`--state`): approvals live there, and this replica keeps only
    /// the waiters of the requests it holds.
    store: Option<Arc<crate::state::State>>,
    /// Requests held here, by approval id, in shared mode.
    waiters: Mutex<HashMap<String, watch::Sender<State>>>,
    /// What this replica wrote to the store (approval records; window discharges), to
    /// write back if the store comes back empty: a decision never lapses with a restart.
    written: Mutex<Written>,
}

/// What a replica wrote to the shared store.
#[derive(Default)]
struct Written {
    /// Approval records by id, with when they may be forgotten.
    records: HashMap<String, (String, SystemTime)>,
    /// Window discharges: caveat key, JSON, until.
    windows: Vec<(String, String, SystemTime)>,
}

/// What a held request needs to file an approval.
pub struct Filing<'a> {
    /// The caveat's id (sealed), and the caveat opened.
    pub caveat_id: &'a [u8],
    /// The caveat opened.
    pub caveat: &'a ApprovalCaveat,
    /// The request's digest ([`caveat::request_digest`]).
    pub digest: [u8; 32],
    /// Issuer name, labels, family, client.
    pub issuer: Option<String>,
    /// Labels in chain order.
    pub labels: Vec<String>,
    /// Token family.
    pub kid: String,
    /// Client address.
    pub client: String,
    /// Method, host, path, raw query, body.
    pub method: String,
    /// Host.
    pub host: String,
    /// Path.
    pub path: String,
    /// Raw query.
    pub query: Option<String>,
    /// Body bytes.
    pub body: &'a [u8],
}

impl Filing<'_> {
    /// The approval this filing opens, as approvers see it.
    fn pending(&self, id: &str, now: SystemTime) -> Approval {
        Approval {
            id: id.to_string(),
            state: State::Pending,
            created: caveat::fmt_time(now),
            issuer: self.issuer.clone(),
            labels: self.labels.clone(),
            kid: self.kid.clone(),
            client: self.client.clone(),
            method: self.method.clone(),
            host: self.host.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            body: body_text(self.body),
            scope: self.caveat.scope.text(),
            decided_by: None,
            decided_at: None,
            reason: None,
            granted: None,
        }
    }
}

/// Why a request could not be filed.
#[derive(Debug)]
pub enum FileError {
    /// The family has [`MAX_PENDING_PER_FAMILY`] open approvals already.
    TooMany,
    /// The shared store cannot be asked.
    Unavailable(Unavailable),
}

fn digest_of(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn caveat_key(id: &[u8]) -> [u8; 32] {
    digest_of(&[b"approval caveat", id])
}

/// The body as an approver reads it: JSON pretty-printed, other text as is, at most
/// [`BODY_SHOWN`] bytes (cut on a character boundary, saying so).
pub fn body_text(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => match std::str::from_utf8(body) {
            Ok(t) => t.to_string(),
            Err(_) => return Some(format!("({} bytes, not text)", body.len())),
        },
    };
    if text.len() <= BODY_SHOWN {
        return Some(text);
    }
    let mut cut = BODY_SHOWN;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(format!("{}\n... ({} bytes in all)", &text[..cut], body.len()))
}

/// A new approval id: 8 characters from an alphabet without look-alikes.
fn new_id() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let bytes: [u8; 8] = caveat::random_bytes();
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

impl Approvals {
    /// No approvals yet.
    pub fn new(ttl: Duration) -> Approvals {
        let me = Approvals {
            inner: Mutex::new(Inner::default()),
            ttl_ms: std::sync::atomic::AtomicU64::new(0),
            store: None,
            waiters: Mutex::new(HashMap::new()),
            written: Mutex::new(Written::default()),
        };
        me.set_ttl(ttl);
        me
    }

    /// How long an undecided approval stays open from now on (`--approval-ttl`).
    pub fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the maps half-written in a way that
        // grants anything: every grant is a discharge the verifier checks.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A discharge kept for `caveat_id` that may allow the request with `digest`: a
    /// window's (kept), or the `once` discharge for exactly this request (taken: it
    /// allows one request).
    fn local_discharge_for(&self, caveat_id: &[u8], digest: &[u8; 32]) -> Option<Token> {
        let now = SystemTime::now();
        let mut inner = self.lock();
        let list = inner.granted.get_mut(&caveat_key(caveat_id))?;
        list.retain(|g| g.until > now);
        if let Some(i) = list.iter().position(|g| g.once.as_ref() == Some(digest)) {
            return Some(list.swap_remove(i).discharge);
        }
        list.iter()
            .rev()
            .find(|g| g.once.is_none())
            .map(|g| g.discharge.clone())
    }

    /// Files the request as a pending approval, or joins the open one for the same caveat
    /// and request. Returns its id, a receiver that changes when it is decided, and the
    /// approval when it is new (to announce).
    fn local_file(
        &self,
        f: Filing<'_>,
    ) -> Result<(String, watch::Receiver<State>, Option<Approval>), FileError> {
        let dedupe = digest_of(&[f.caveat_id, &f.digest]);
        let mut inner = self.lock();
        self.expire(&mut inner);
        if let Some(id) = inner.open.get(&dedupe).cloned() {
            if let Some(e) = inner.entries.get(&id) {
                return Ok((id, e.tx.subscribe(), None));
            }
        }
        let open_in_family = inner
            .open
            .values()
            .filter(|id| inner.entries.get(*id).is_some_and(|e| e.view.kid == f.kid))
            .count();
        if open_in_family >= MAX_PENDING_PER_FAMILY {
            return Err(FileError::TooMany);
        }
        let mut id = new_id();
        while inner.entries.contains_key(&id) {
            id = new_id();
        }
        let (tx, rx) = watch::channel(State::Pending);
        let now = SystemTime::now();
        let view = f.pending(&id, now);
        inner.entries.insert(
            id.clone(),
            Entry {
                view,
                caveat_id: f.caveat_id.to_vec(),
                dedupe,
                tx,
                request_digest: f.digest,
                filed: now,
                minted: None,
            },
        );
        inner.open.insert(dedupe, id.clone());
        inner.order.push_back(id.clone());
        let new = inner.entries.get(&id).map(|e| e.view.clone());
        Ok((id, rx, new))
    }

    /// Marks approvals open longer than the TTL as expired, and forgets the oldest decided
    /// ones beyond [`KEEP_DECIDED`].
    fn expire(&self, inner: &mut Inner) {
        let now = SystemTime::now();
        let stale: Vec<String> = inner
            .entries
            .iter()
            .filter(|(_, e)| {
                e.view.state == State::Pending && now.duration_since(e.filed).unwrap_or_default() > self.ttl()
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some(e) = inner.entries.get_mut(&id) {
                e.view.state = State::Expired;
                e.tx.send_replace(State::Expired);
                let dedupe = e.dedupe;
                inner.open.remove(&dedupe);
            }
        }
        while inner.order.len() > KEEP_DECIDED + MAX_PENDING_PER_FAMILY * 64 {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if inner
                .entries
                .get(&oldest)
                .is_some_and(|e| e.view.state == State::Pending)
            {
                inner.order.push_back(oldest);
                break;
            }
            inner.entries.remove(&oldest);
        }
    }

    /// Every approval this proxy holds, newest first.
    fn local_list(&self) -> Vec<Approval> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.entries.get(id).map(|e| e.view.clone()))
            .collect()
    }

    /// One approval.
    fn local_get(&self, id: &str) -> Option<Approval> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        inner.entries.get(id).map(|e| e.view.clone())
    }

    /// The discharge an approval minted, if it was approved.
    fn local_discharge(&self, id: &str) -> Option<Token> {
        self.lock().entries.get(id)?.minted.clone()
    }

    /// Records a person's answer; approving mints the discharge (from the caveat opened
    /// with `keys`) and releases every request held for it.
    fn local_answer(
        &self,
        id: &str,
        by: &str,
        answer: Answer,
        keys: &[caveat::ProxyKeyPair],
    ) -> Result<Approval, AnswerError> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        let e = inner
            .entries
            .get(id)
            .ok_or_else(|| AnswerError::Unknown(id.to_string()))?;
        if e.view.state != State::Pending {
            return Err(AnswerError::Decided(id.to_string(), state_word(e.view.state)));
        }
        let now = SystemTime::now();
        let (state, granted, reason) =
            decide(&e.view, &e.caveat_id, &e.request_digest, answer, keys, now, id)?;
        let caveat_id = e.caveat_id.clone();
        let dedupe = e.dedupe;
        let e = inner
            .entries
            .get_mut(id)
            .ok_or_else(|| AnswerError::Unknown(id.to_string()))?;
        e.view.state = state;
        e.view.decided_by = Some(by.to_string());
        e.view.decided_at = Some(caveat::fmt_time(now));
        e.view.reason = reason;
        if let Some((g, said)) = granted {
            e.view.granted = Some(said.clone());
            e.minted = Some(g.discharge.clone());
            inner.granted.entry(caveat_key(&caveat_id)).or_default().push(g);
        }
        inner.open.remove(&dedupe);
        let e = inner
            .entries
            .get(id)
            .ok_or_else(|| AnswerError::Unknown(id.to_string()))?;
        // Released only once the discharge is kept, so a held request finds it.
        e.tx.send_replace(state);
        Ok(e.view.clone())
    }

    /// Approvals shared through `store` when it is Redis (`--state`): filed, decided and
    /// kept there, so any replica decides and releases them.
    pub fn shared(ttl: Duration, store: Arc<crate::state::State>) -> Approvals {
        let mut me = Approvals::new(ttl);
        if store.shared().is_some() {
            me.store = Some(store);
        }
        me
    }

    fn redis(&self) -> Option<&crate::state::store::RedisState> {
        self.store.as_deref().and_then(crate::state::State::shared)
    }

    /// A discharge kept for `caveat_id` that may allow the request with `digest`: a
    /// window's (kept), or the `once` discharge for exactly this request (taken, on any
    /// replica: it allows one request).
    pub async fn discharge_for(
        &self,
        caveat_id: &[u8],
        digest: &[u8; 32],
    ) -> Result<Option<Token>, Unavailable> {
        let Some(r) = self.redis() else {
            return Ok(self.local_discharge_for(caveat_id, digest));
        };
        let key = hex::encode(caveat_key(caveat_id));
        let now = unix(SystemTime::now());
        let items = r.approval_granted(&key).await?;
        let parsed: Vec<(String, GrantedRec)> = items
            .into_iter()
            .filter_map(|i| serde_json::from_str::<GrantedRec>(&i).ok().map(|g| (i, g)))
            .filter(|(_, g)| g.until > now)
            .collect();
        let want = hex::encode(digest);
        for (raw, g) in &parsed {
            if g.once.as_deref() == Some(want.as_str()) && r.approval_take(&key, raw).await? {
                return Ok(Token::decode(&g.d).ok());
            }
        }
        Ok(parsed
            .iter()
            .rev()
            .find(|(_, g)| g.once.is_none())
            .and_then(|(_, g)| Token::decode(&g.d).ok()))
    }

    /// Files the request as a pending approval, or joins the open one for the same caveat
    /// and request (on any replica). Returns its id, a receiver that changes when it is
    /// decided, and the approval when it is new (to announce).
    pub async fn file(
        &self,
        f: Filing<'_>,
    ) -> Result<(String, watch::Receiver<State>, Option<Approval>), FileError> {
        let Some(r) = self.redis() else {
            return self.local_file(f);
        };
        let dedupe = digest_of(&[f.caveat_id, &f.digest]);
        let now = SystemTime::now();
        let id = new_id();
        let view = f.pending(&id, now);
        let rec = Record {
            view: view.clone(),
            caveat_id: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, f.caveat_id),
            dedupe: hex::encode(dedupe),
            digest: hex::encode(f.digest),
            filed: unix(now),
            minted: None,
        };
        let json = serde_json::to_string(&rec).unwrap_or_default();
        let ttl = self.ttl();
        let filed = r
            .approval_file(
                &rec.dedupe,
                &id,
                &rec.view.kid,
                &json,
                ttl,
                ttl + KEEP_SHARED,
                unix_ms(now),
                MAX_PENDING_PER_FAMILY,
            )
            .await
            .map_err(FileError::Unavailable)?;
        let (id, new) = match filed {
            crate::state::approvals::Filed::Open(existing) => (existing, None),
            crate::state::approvals::Filed::TooMany => return Err(FileError::TooMany),
            crate::state::approvals::Filed::New => {
                self.remember(&id, json, now + ttl + KEEP_SHARED, None);
                (id, Some(view))
            }
        };
        let rx = {
            let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            w.retain(|_, tx| tx.receiver_count() > 0);
            w.entry(id.clone())
                .or_insert_with(|| watch::channel(State::Pending).0)
                .subscribe()
        };
        Ok((id, rx, new))
    }

    fn remember(
        &self,
        id: &str,
        json: String,
        forget: SystemTime,
        window: Option<(String, String, SystemTime)>,
    ) {
        let now = SystemTime::now();
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        w.records.retain(|_, (_, f)| *f > now);
        w.windows.retain(|(_, _, until)| *until > now);
        w.records.insert(id.to_string(), (json, forget));
        w.windows.extend(window);
    }

    /// Writes back what this replica wrote, after the store came back empty (a restart
    /// without persistence): decided approvals stay decided, approved windows stay open.
    pub async fn write_back(&self) {
        let Some(r) = self.redis() else { return };
        let now = SystemTime::now();
        let (records, windows) = {
            let w = self.written.lock().unwrap_or_else(|p| p.into_inner());
            (
                w.records
                    .iter()
                    .filter(|(_, (_, f))| *f > now)
                    .map(|(id, (j, f))| (id.clone(), j.clone(), *f))
                    .collect::<Vec<_>>(),
                w.windows
                    .iter()
                    .filter(|(_, _, u)| *u > now)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        };
        let (mut ok, mut failed) = (0, 0);
        for (id, json, forget) in &records {
            let keep = forget.duration_since(now).unwrap_or_default();
            let filed = serde_json::from_str::<Record>(json)
                .map(|r| r.filed)
                .unwrap_or_default();
            match r.approval_restore(id, json, keep, filed * 1000).await {
                Ok(()) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        for (caveat, json, until) in &windows {
            let keep = until.duration_since(now).unwrap_or_default();
            match r.approval_restore_granted(caveat, json, keep).await {
                Ok(()) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        tracing::warn!(
            "the state store came back empty: wrote back {ok} approval record(s) and window(s) this replica held{}",
            if failed > 0 { format!(" ({failed} could not be written)") } else { String::new() }
        );
    }

    /// Wakes the requests this replica holds for `id` (a decision published on another).
    pub async fn wake(&self, id: &str) {
        let tx = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        let Some(tx) = tx else { return };
        if let Ok(Some(a)) = self.get(id).await {
            if a.state != State::Pending {
                tx.send_replace(a.state);
            }
        }
    }

    /// Every approval, newest first.
    pub async fn list(&self) -> Result<Vec<Approval>, Unavailable> {
        let Some(r) = self.redis() else {
            return Ok(self.local_list());
        };
        let ttl = self.ttl();
        Ok(r.approval_list(KEEP_DECIDED)
            .await?
            .iter()
            .filter_map(|j| serde_json::from_str::<Record>(j).ok())
            .map(|rec| rec.current(ttl))
            .collect())
    }

    /// One approval.
    pub async fn get(&self, id: &str) -> Result<Option<Approval>, Unavailable> {
        let Some(r) = self.redis() else {
            return Ok(self.local_get(id));
        };
        let ttl = self.ttl();
        Ok(r.approval_get(id)
            .await?
            .and_then(|j| serde_json::from_str::<Record>(&j).ok())
            .map(|rec| rec.current(ttl)))
    }

    /// The discharge an approval minted, if it was approved.
    pub async fn discharge(&self, id: &str) -> Result<Option<Token>, Unavailable> {
        let Some(r) = self.redis() else {
            return Ok(self.local_discharge(id));
        };
        Ok(r.approval_get(id)
            .await?
            .and_then(|j| serde_json::from_str::<Record>(&j).ok())
            .and_then(|rec| rec.minted)
            .and_then(|d| Token::decode(&d).ok()))
    }

    /// Records a person's answer; approving mints the discharge (from the caveat opened
    /// with `keys`) and releases every request held for it, on every replica.
    pub async fn answer(
        &self,
        id: &str,
        by: &str,
        answer: Answer,
        keys: &[caveat::ProxyKeyPair],
    ) -> Result<Approval, AnswerError> {
        let Some(r) = self.redis() else {
            return self.local_answer(id, by, answer, keys);
        };
        let old = r
            .approval_get(id)
            .await
            .map_err(AnswerError::Unavailable)?
            .ok_or_else(|| AnswerError::Unknown(id.to_string()))?;
        let mut rec: Record = serde_json::from_str(&old).map_err(|_| AnswerError::Unknown(id.to_string()))?;
        let current = rec.clone().current(self.ttl());
        if current.state != State::Pending {
            return Err(AnswerError::Decided(id.to_string(), state_word(current.state)));
        }
        let caveat_id = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &rec.caveat_id)
            .map_err(|_| AnswerError::Sealed(id.to_string()))?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&rec.digest, &mut digest).map_err(|_| AnswerError::Sealed(id.to_string()))?;
        let now = SystemTime::now();
        let (state, granted, reason) = decide(&rec.view, &caveat_id, &digest, answer, keys, now, id)?;
        rec.view.state = state;
        rec.view.decided_by = Some(by.to_string());
        rec.view.decided_at = Some(caveat::fmt_time(now));
        rec.view.reason = reason;
        let mut granted_json = None;
        let mut keep = Duration::from_secs(60);
        if let Some((g, said)) = &granted {
            rec.view.granted = Some(said.clone());
            rec.minted = Some(g.discharge.encode());
            keep = g.until.duration_since(now).unwrap_or_default() + Duration::from_secs(60);
            granted_json = serde_json::to_string(&GrantedRec {
                d: g.discharge.encode(),
                once: g.once.map(hex::encode),
                until: unix(g.until),
            })
            .ok();
        }
        let new = serde_json::to_string(&rec).unwrap_or_default();
        let taken = r
            .approval_decide(
                id,
                &old,
                &new,
                &rec.dedupe,
                &hex::encode(caveat_key(&caveat_id)),
                &rec.view.kid,
                granted_json.as_deref(),
                keep,
            )
            .await
            .map_err(AnswerError::Unavailable)?;
        if !taken {
            return Err(AnswerError::Decided(
                id.to_string(),
                "decided (by someone else, just now)",
            ));
        }
        // A window's discharge is written back after a store restart; a `once` one is not
        // (its one use may have been spent): that request is simply asked for again.
        let window = granted
            .as_ref()
            .filter(|(g, _)| g.once.is_none())
            .and_then(|(g, _)| {
                granted_json
                    .clone()
                    .map(|j| (hex::encode(caveat_key(&caveat_id)), j, g.until))
            });
        self.remember(id, new, now + KEEP_SHARED, window);
        // This replica's waiters at once; the others through the published decision.
        self.wake(id).await;
        Ok(rec.view)
    }

    /// How many approvals are open (on this replica, in shared mode: held here).
    pub fn pending(&self) -> usize {
        if self.store.is_some() {
            return self
                .waiters
                .lock()
                .map(|w| w.values().filter(|t| t.receiver_count() > 0).count())
                .unwrap_or(0);
        }
        self.lock().open.len()
    }
}

/// A minted discharge: the token, until when it is kept, the one request it allows (for
/// `once`), and what it allows in words.
type Minted = (Token, SystemTime, Option<[u8; 32]>, String);

/// How long a decided approval stays readable in the store after its TTL.
const KEEP_SHARED: Duration = Duration::from_secs(24 * 3600);

/// An approval as the store keeps it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Record {
    view: Approval,
    /// The sealed caveat id, base64.
    caveat_id: String,
    dedupe: String,
    digest: String,
    /// When it was filed (Unix seconds).
    filed: u64,
    /// The discharge approving minted.
    minted: Option<String>,
}

impl Record {
    /// The approval as of now: a pending one open longer than `ttl` is expired.
    fn current(mut self, ttl: Duration) -> Approval {
        if self.view.state == State::Pending
            && unix(SystemTime::now()).saturating_sub(self.filed) > ttl.as_secs()
        {
            self.view.state = State::Expired;
        }
        self.view
    }
}

/// A kept discharge, as the store keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct GrantedRec {
    d: String,
    once: Option<String>,
    until: u64,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn unix_ms(t: SystemTime) -> u64 {
    u64::try_from(
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Approved => "approved",
        State::Denied => "denied",
        State::Expired => "expired (not decided in time; the agent's next try files a new one)",
        State::Pending => "pending",
    }
}

/// What an answer makes of an approval: its new state, the discharge (with what it allows
/// in words) when approved, and the reason or note.
#[allow(clippy::type_complexity)]
fn decide(
    view: &Approval,
    caveat_id: &[u8],
    digest: &[u8; 32],
    answer: Answer,
    keys: &[caveat::ProxyKeyPair],
    now: SystemTime,
    id: &str,
) -> Result<(State, Option<(Granted, String)>, Option<String>), AnswerError> {
    match answer {
        Answer::Deny { reason } => Ok((State::Denied, None, reason)),
        Answer::Approve {
            window,
            method,
            path,
            note,
        } => {
            let opened =
                ApprovalCaveat::open(caveat_id, keys).ok_or_else(|| AnswerError::Sealed(id.to_string()))?;
            let scope = match window {
                Some(w) => ApprovalScope::Window(w),
                None => opened.scope,
            };
            let (discharge, until, once, said) =
                mint(&opened, caveat_id, scope, view, digest, method, path, now)?;
            Ok((
                State::Approved,
                Some((
                    Granted {
                        discharge,
                        once,
                        until,
                    },
                    said,
                )),
                note,
            ))
        }
    }
}

/// Mints the discharge for an approval: `once` = this request's digest, one use, 10
/// minutes; a window = its end, and the method and path prefix approved (default: the
/// request's). Returns it, its end, the digest it is bound to, and what it allows in words.
#[allow(clippy::too_many_arguments)]
fn mint(
    opened: &ApprovalCaveat,
    caveat_id: &[u8],
    scope: ApprovalScope,
    view: &Approval,
    digest: &[u8; 32],
    method: Option<String>,
    path: Option<String>,
    now: SystemTime,
) -> Result<Minted, AnswerError> {
    let discharge = Token::discharge(
        Some(caveat::APPROVAL_LOCATION.to_string()),
        &*opened.key,
        caveat_id,
    )
    .map_err(|e| AnswerError::Bad(format!("could not mint the discharge: {e}")))?;
    let whole_seconds = |t: SystemTime| {
        let s = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    };
    match scope {
        ApprovalScope::Once => {
            if method.is_some() || path.is_some() {
                return Err(AnswerError::Bad(
                    "a once approval allows exactly the request held; --method and --path narrow a window (--for 10m)".into(),
                ));
            }
            let until = whole_seconds(now + ONCE_LIFETIME);
            let d = discharge
                .attenuate(&Caveat::RequestDigest(*digest))
                .attenuate(&Caveat::TimeBefore(until))
                .attenuate(&Caveat::Uses(1));
            let said = format!("this one request, once, until {}", caveat::fmt_time(until));
            Ok((d, until, Some(*digest), said))
        }
        ApprovalScope::Window(w) => {
            if w.is_zero() || w > caveat::MAX_APPROVAL_WINDOW {
                return Err(AnswerError::Bad(
                    "an approval window is more than 0 and at most 24h".into(),
                ));
            }
            let until = whole_seconds(now + w);
            let m = method.unwrap_or_else(|| view.method.clone()).to_ascii_uppercase();
            let m =
                Method::parse_canonical(&m).map_err(|e| AnswerError::Bad(format!("--method {m:?}: {e}")))?;
            let p = path.unwrap_or_else(|| view.path.clone());
            let p = RequestPath::parse(&p).map_err(|e| AnswerError::Bad(format!("--path {p:?}: {e}")))?;
            let said = format!("{} under {} until {}", m, p, caveat::fmt_time(until));
            let d = discharge
                .attenuate(&Caveat::TimeBefore(until))
                .attenuate(&Caveat::MethodIn(vec![m]))
                .attenuate(&Caveat::PathPrefix(vec![p]));
            Ok((d, until, None, said))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing<'a>(id: &'a [u8], c: &'a ApprovalCaveat, digest: [u8; 32], kid: &str) -> Filing<'a> {
        Filing {
            caveat_id: id,
            caveat: c,
            digest,
            issuer: Some("local".into()),
            labels: vec!["agent".into()],
            kid: kid.into(),
            client: "127.0.0.1:1".into(),
            method: "POST".into(),
            host: "api.example.test".into(),
            path: "/v1/refunds".into(),
            query: None,
            body: br#"{"amount":500}"#,
        }
    }

    #[test]
    fn the_same_request_joins_the_open_approval_and_approval_releases_it() {
        let proxy = caveat::ProxyKeyPair::generate();
        let c = ApprovalCaveat::new(ApprovalScope::Once);
        let id = c.seal(proxy.public());
        let a = Approvals::new(DEFAULT_TTL);
        let (first, mut rx, new) = a.local_file(filing(&id, &c, [1; 32], "k")).expect("filed");
        let (again, _, joined) = a.local_file(filing(&id, &c, [1; 32], "k")).expect("joined");
        assert_eq!(first, again);
        assert!(
            new.is_some() && joined.is_none(),
            "only a new approval is announced"
        );
        let (other, _, _) = a
            .local_file(filing(&id, &c, [2; 32], "k"))
            .expect("another request");
        assert_ne!(first, other);
        assert_eq!(a.local_list().len(), 2);
        assert!(a
            .local_get(&first)
            .expect("view")
            .body
            .expect("body")
            .contains("\"amount\": 500"));
        assert!(a.local_discharge_for(&id, &[1; 32]).is_none());
        let approve = Answer::Approve {
            window: None,
            method: None,
            path: None,
            note: None,
        };
        let v = a
            .local_answer(&first, "alice", approve.clone(), std::slice::from_ref(&proxy))
            .expect("approved");
        assert_eq!(
            (v.state, v.decided_by.as_deref()),
            (State::Approved, Some("alice"))
        );
        assert_eq!(*rx.borrow_and_update(), State::Approved);
        assert!(
            a.local_discharge_for(&id, &[2; 32]).is_none(),
            "once: only its own request"
        );
        let d = a.local_discharge_for(&id, &[1; 32]).expect("the discharge");
        assert!(a.local_discharge_for(&id, &[1; 32]).is_none(), "taken once");
        let text: Vec<String> = d
            .first_party()
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert!(text[0].starts_with("request digest = sha256:0101"), "{text:?}");
        assert_eq!(text[2], "uses <= 1");
        assert!(matches!(
            a.local_answer(&first, "bob", approve, std::slice::from_ref(&proxy)),
            Err(AnswerError::Decided(_, "approved"))
        ));
    }

    #[test]
    fn a_window_is_narrowed_and_kept_and_a_family_has_a_bound() {
        let proxy = caveat::ProxyKeyPair::generate();
        let c = ApprovalCaveat::new(ApprovalScope::Window(Duration::from_secs(600)));
        let id = c.seal(proxy.public());
        let a = Approvals::new(DEFAULT_TTL);
        let (ap, _, _) = a.local_file(filing(&id, &c, [1; 32], "k")).expect("filed");
        let answer = Answer::Approve {
            window: Some(Duration::from_secs(3600)),
            method: Some("post".into()),
            path: Some("/v1".into()),
            note: Some("ok for the batch".into()),
        };
        let v = a
            .local_answer(&ap, "alice", answer, std::slice::from_ref(&proxy))
            .expect("approved");
        assert!(v.granted.expect("granted").starts_with("POST under /v1 until"));
        assert!(a.local_discharge_for(&id, &[9; 32]).is_some());
        assert!(a.local_discharge_for(&id, &[9; 32]).is_some(), "a window is kept");
        let denied = a.local_file(filing(&id, &c, [3; 32], "k")).expect("filed").0;
        let v = a
            .local_answer(
                &denied,
                "bob",
                Answer::Deny {
                    reason: Some("not today".into()),
                },
                &[],
            )
            .expect("denied");
        assert_eq!((v.state, v.reason.as_deref()), (State::Denied, Some("not today")));
        for n in 0..MAX_PENDING_PER_FAMILY {
            a.local_file(filing(&id, &c, [n as u8 + 10; 32], "crowded"))
                .expect("room");
        }
        assert!(matches!(
            a.local_file(filing(&id, &c, [200; 32], "crowded")),
            Err(FileError::TooMany)
        ));
        assert!(
            a.local_file(filing(&id, &c, [200; 32], "other")).is_ok(),
            "another family is not affected"
        );
    }

    #[test]
    fn bodies_are_shown_as_text_and_cut() {
        assert_eq!(body_text(b""), None);
        assert_eq!(body_text(b"a=1&b=2").as_deref(), Some("a=1&b=2"));
        assert_eq!(body_text(&[0xff, 0xfe]).as_deref(), Some("(2 bytes, not text)"));
        let big = "é".repeat(5000);
        let shown = body_text(big.as_bytes()).expect("text");
        assert!(
            shown.len() < BODY_SHOWN + 64 && shown.ends_with("(10000 bytes in all)"),
            "{}",
            shown.len()
        );
    }
}
