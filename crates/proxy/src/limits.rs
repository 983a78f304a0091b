//! Every fixed timeout and size limit of the proxy, in one place (the ones an operator sets
//! are flags, in [`crate::config::Config`]).

use std::time::Duration;

// Client connections.
/// How long a client may take to send request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head (request line and headers) read and accepted (431 beyond;
/// hyper bounds its read buffer by it too).
pub const MAX_HEAD: usize = 64 * 1024;
/// How long an intercepted connection may stay without a request open: HTTP/1.1 ones wait
/// this long for a request head (hyper's header timeout), HTTP/2 ones as long between
/// requests.
pub const TUNNEL_IDLE: Duration = HEADER_TIMEOUT;
/// How long shutdown waits for in-flight requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest request target accepted (414 beyond).
pub const MAX_URI: usize = 16 * 1024;

// Upstream connections.
/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle upstream connections kept per host, across all pools. Enough for every in-flight
/// request of a busy host to find its connection again: a smaller cap closes connections
/// after each burst and opens new ones (a TLS handshake each) on the next; at 256 client
/// connections a cap of 64 doubled the CPU per request. Idle ones close after 90 s.
pub const MAX_IDLE_UPSTREAM: usize = 1024;
/// How long an idle connection is kept.
pub const UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a connection stays idle before its HTTP state is released.
pub const IDLE_RELEASE: Duration = Duration::from_millis(500);

// The state store.
/// How long one request may wait on the store before it is refused.
pub const STORE_TIMEOUT: Duration = Duration::from_millis(1500);
/// After a failure, counted requests are refused at once for this long instead of each
/// waiting on a reconnection; the revocation poll keeps trying in the background, and its
/// first success lets them through again.
pub const FAIL_FAST: Duration = Duration::from_secs(1);
/// How often replicas look for revocations written to the store.
pub const REVOCATION_POLL: Duration = Duration::from_millis(250);
/// How often the home's revocation and issuer files are checked for changes.
pub const REVOKED_FILE_RECHECK: Duration = Duration::from_secs(1);

// OAuth2 exchanges.
/// The largest token response read (Google's and Microsoft's are under 4 KiB).
pub const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// The longest an exchange may take (the lock is held meanwhile, and requests wait).
pub const MAX_EXCHANGE_TIME: Duration = Duration::from_secs(30);
/// The longest an access token is cached, whatever `expires_in` the provider gave (a
/// huge one must not overflow the clock).
pub const MAX_LIFETIME: Duration = Duration::from_secs(86_400);
/// After a forced exchange (the upstream refused a token with 401), the next refusal
/// within this time is passed on to the client instead of forcing another: an upstream
/// that refuses every token costs one exchange per this time, not one per request.
pub const REFUSAL_HOLD: Duration = Duration::from_secs(30);
/// How long a failed exchange answers for the requests that waited on it, and for new
/// ones: a token endpoint that refuses gets one request a second from us, not one per
/// client request.
pub const FAILURE_HOLD: Duration = Duration::from_secs(1);
/// How often a replica waiting on another's exchange looks for its token.
pub const SHARED_TOKEN_POLL: Duration = Duration::from_millis(25);

// Caches.
/// Most opened identifiers kept in memory (least useful evicted first).
pub const UNSEAL_CACHE_MAX: usize = 10_000;
/// Most token texts whose copy searchers are kept (about 5 KB each).
pub const COPIES_CACHE_MAX: usize = 1024;
/// Most verified tokens kept, and about how many bytes they may hold (a token may be up to
/// 64 KiB; a typical one is under 2 KiB).
pub const VERIFIED_CACHE_MAX: usize = 4096;
/// See [`VERIFIED_CACHE_MAX`].
pub const VERIFIED_CACHE_BYTES: u64 = 8 << 20;
