//! One request on its way through the pipeline's phases: how it came ([`Mode`]), its
//! context ([`RequestCtx`]), what the decision produced ([`Outgoing`], [`OutBody`]) and the
//! kept OAuth2 request ([`Retry`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::audit::Record;
use crate::credentials::inject::Resolved;
use bytes::Bytes;
use caveat::Secret;
use http::{HeaderMap, Method, Uri};
use hyper::body::Incoming;

use crate::credentials::oauth::Family;
use crate::http::Body;

/// How the request reached us, which decides whose authority counts.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Origin-form on the plain listener: the token's first sealed host.
    Reverse,
    /// Absolute-form (HTTP_PROXY): the URI's host.
    Forward,
    /// Inside an intercepted CONNECT tunnel: the CONNECT target, and nothing else.
    Tunnel {
        /// The CONNECT target host.
        host: caveat::Host,
        /// The CONNECT target port.
        port: u16,
        /// A token from the CONNECT's `Proxy-Authorization`, used by inner requests that
        /// carry none of their own (each is still decided on its own).
        token: Option<Resolved>,
        /// Reached by a transparent redirect (SNI named the host) rather than CONNECT.
        transparent: bool,
    },
    /// Plain HTTP redirected to the transparent listener: the Host header is the authority
    /// (the secret still goes upstream over TLS).
    TransparentHttp {
        /// The original destination port.
        port: u16,
    },
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Reverse => "reverse",
            Mode::Forward => "forward",
            Mode::Tunnel {
                transparent: false, ..
            } => "tunnel",
            Mode::Tunnel {
                transparent: true, ..
            }
            | Mode::TransparentHttp { .. } => "transparent",
        }
    }
}

/// One request on its way through the phases: how it came, when, and its audit record,
/// which each phase fills in and [`crate::pipeline::logging`] alone writes.
pub struct RequestCtx {
    /// When the request arrived.
    pub start: Instant,
    /// How it reached us.
    pub mode: Mode,
    /// The audit line being built.
    pub rec: Record,
    /// The secret's scrubber, for a request that carries one: its response is scrubbed.
    pub scrub: Option<Arc<crate::upstream::scrub::Scrubber>>,
    /// An OAuth2 request without a body: sent again once with a new access token if the
    /// upstream answers 401.
    pub retry: Option<Box<Retry>>,
    /// The request's token, to keep pieces of it out of the audit line.
    pub copies: Option<Arc<crate::copies::Copies>>,
    /// A request with `tools/list` under `mcp tool` caveats: its result is narrowed to the
    /// tools the token may call.
    pub tools: Option<Box<crate::upstream::tools::ToolsFilter>>,
    /// The id of an MCP request refused by an `mcp` caveat: the refusal is a JSON-RPC error.
    pub jsonrpc_id: Option<Box<serde_json::Value>>,
}

impl RequestCtx {
    pub(crate) fn new<B>(req: &http::Request<B>, client: SocketAddr, mode: Mode) -> Self {
        RequestCtx {
            start: Instant::now(),
            rec: Record {
                time: crate::audit::now(),
                request_id: crate::ids::request_id(),
                client: crate::ids::peer_text(client),
                mode: mode.name(),
                method: crate::audit::method_text(req.method().as_str()),
                path: req.uri().path().to_string(),
                ..Record::default()
            },
            mode,
            scrub: None,
            retry: None,
            copies: None,
            tools: None,
            jsonrpc_id: None,
        }
    }

    /// Marks the decision as taken now.
    pub(crate) fn decided(&mut self) {
        self.rec.decide_ms = crate::http::ms(self.start.elapsed());
    }
}

/// What the decision produced: a request for the upstream.
pub enum Outgoing {
    /// A verified request carrying the secret, to a sealed host, over TLS.
    Secret(http::Request<Body>),
    /// A request without a token to a `--passthrough` host, untouched.
    Passthrough(http::Request<Body>),
}

/// The body that goes upstream.
pub enum OutBody {
    /// Streamed as it arrives (the token has no body caveat).
    Stream(Incoming),
    /// Exactly the bytes that were read and checked.
    Checked(Bytes),
}

/// A bodyless OAuth2 request, kept to be sent once more if the upstream refuses its access
/// token (401): [`crate::pipeline::upstream_request::retry`] keeps it, [`crate::pipeline::obtain::after_refusal`]
/// gets the new token and [`crate::pipeline::upstream_request::retried`] builds the request again.
/// Requests with a body are not retried: their body is gone.
pub struct Retry {
    pub(crate) family: Arc<Family>,
    pub(crate) used: Secret,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
}

#[cfg(test)]
mod tests {
    use super::*;
    use caveat::{CacheKey, Token};

    /// The tunnel's token travels in `Mode`, which derives `Debug`: it must not show.
    #[test]
    fn a_tunnel_mode_never_shows_its_token() {
        let text = crate::proxy::test_token("sk_test_tunnel").encode();
        let token = Token::decode(&text).expect("decodes");
        let mode = Mode::Tunnel {
            host: caveat::Host::normalize("api.example.com").expect("host"),
            port: 443,
            token: Some(Resolved::Decoded {
                token: Arc::new(token),
                key: CacheKey::of(&text),
                text: crate::credentials::inject::TokenText(text.as_str().into()),
            }),
            transparent: false,
        };
        let shown = format!("{mode:?}");
        assert!(!shown.contains(&text), "{shown}");
        assert!(!shown.contains("sk_test_tunnel"), "{shown}");
        assert!(shown.contains("fingerprint"), "{shown}");
    }
}
