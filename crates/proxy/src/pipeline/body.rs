//! Phase 3b, the body: read whole, only for a token with body caveats (`form`, `json`,
//! `body size`, `mcp`, `graphql`) or for a form or JSON body under `method` or `query` caveats (frameworks
//! read `_method` and query fields from it), and only after everything else about the
//! request was allowed. Bounded by `--max-body` (413 before a byte goes upstream) and
//! `--body-timeout` (408); hyper answers `Expect: 100-continue`
//! only when this starts reading, so a client whose headers are refused never sends its
//! body. The bytes read are the bytes checked and the bytes forwarded (never
//! re-serialized), with `Content-Length` set from them; trailers are not forwarded.
//! Requests without body caveats never come here: their bodies stream, except a SigV4
//! request to a service that needs the payload's hash in its signature
//! ([`for_signature`]): that body is read whole, with the same bound.

use bytes::Bytes;
use caveat::{BodyView, RequestBody};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::config::Config;
use crate::deny::Deny;
use crate::request::OutBody;

/// Reads the whole body, refusing one over `--max-body` bytes or not whole within
/// `--body-timeout` (a client that stops sending would otherwise hold up to `--max-body` of
/// memory for as long as it keeps the connection open).
pub async fn read(parts: &Parts, body: Incoming, config: &Config) -> Result<BodyView, Deny> {
    let max = config.max_body;
    // A declared length over the limit is refused before reading (or sending 100 Continue).
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Deny::BodyTooLarge { max });
    }
    let reading = tokio::time::timeout(config.body_timeout, Limited::new(body, max).collect());
    let Ok(collected) = reading.await else {
        return Err(Deny::BodyTimeout {
            after: config.body_timeout,
        });
    };
    let collected = match collected {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(Deny::BodyTooLarge { max })
        }
        // A body cut short, or one that disagrees with its Content-Length (hyper checks).
        Err(e) => {
            return Err(Deny::BadRequest(format!(
                "the request body could not be read whole: {e}"
            )))
        }
    };
    let bytes: Bytes = collected.to_bytes();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(BodyView::Read(RequestBody::new(
        header(CONTENT_TYPE),
        header(CONTENT_ENCODING),
        bytes,
    )))
}

/// The body of a SigV4 request whose signature covers the payload's hash (every service but
/// S3), read whole as [`read`] does; any other body as it was.
pub async fn for_signature(
    parts: &Parts,
    service: &str,
    body: OutBody,
    config: &Config,
) -> Result<OutBody, Deny> {
    let hashed = crate::credentials::sigv4::payload(service, &parts.headers)
        .is_ok_and(|p| p == crate::credentials::sigv4::Payload::Hashed);
    match body {
        OutBody::Stream(b) if hashed => Ok(match read(parts, b, config).await? {
            BodyView::Read(r) => OutBody::Checked(r.bytes.clone()),
            BodyView::NotRead => OutBody::Checked(Bytes::new()),
        }),
        other => Ok(other),
    }
}
