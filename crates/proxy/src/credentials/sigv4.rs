//! AWS SigV4: the client signs with dummy keys and carries the macaroon as its session
//! token; the proxy throws that signature away and signs the request it forwards with the
//! sealed keys, using the AWS-maintained `aws-sigv4` crate (a signer is exactly the code
//! not to write by hand).
//!
//! The payload hash. A signature covers a hash of the body, and the proxy forwards bodies
//! as they stream. Two cases:
//!
//! * S3 accepts `UNSIGNED-PAYLOAD` (and `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, the
//!   aws-chunked body with a checksum trailer that current SDKs send for uploads), so for
//!   service `s3` the body streams and is not part of the signature: the proxy never vouches
//!   for a hash it did not compute. A client's own hex hash is replaced by
//!   `UNSIGNED-PAYLOAD`; chunk-signed streams (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD…`) are
//!   refused, since their chunk signatures are made with the dummy key.
//! * Every other service needs the real hash, so the body is read whole (bounded by
//!   `--max-body`, 413 beyond), hashed and forwarded as read, with `Content-Length`.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use caveat::SigV4Keys;
use http::HeaderMap;

/// The client's signing headers, removed before the proxy signs (the token header is
/// stripped as a copy of the token too).
pub const CLIENT_SIGNING_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// How the forwarded body enters the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// `UNSIGNED-PAYLOAD` (S3): the body streams.
    Unsigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (S3 aws-chunked uploads): the body streams.
    UnsignedTrailer,
    /// The SHA-256 of the body, read whole.
    Hashed,
}

/// Why a request cannot be signed.
#[derive(Debug)]
pub enum SignError {
    /// The client sent a chunk-signed stream.
    ChunkSigned,
    /// A header value is not visible ASCII, so it cannot be signed as sent.
    Header(String),
    /// The signer refused (a URI it cannot read).
    Signer(String),
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::ChunkSigned => f.write_str(
                "the request body is a chunk-signed stream (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), signed \
                 chunk by chunk with the client's dummy key, which the proxy cannot re-sign; send it over \
                 HTTPS with an unsigned payload, as AWS SDKs do by default",
            ),
            SignError::Header(name) => write!(
                f,
                "the {name} header holds bytes that are not visible ASCII, so the request cannot be signed as sent"
            ),
            SignError::Signer(why) => write!(f, "the request cannot be signed: {why}"),
        }
    }
}

/// How the body of a request for `service` enters the signature, from what the client
/// declared in `x-amz-content-sha256`.
pub fn payload(service: &str, headers: &HeaderMap) -> Result<Payload, SignError> {
    if service != "s3" {
        return Ok(Payload::Hashed);
    }
    let declared = headers
        .get("x-amz-content-sha256")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    match declared.as_deref() {
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER") => Ok(Payload::UnsignedTrailer),
        Some(d) if d.starts_with("STREAMING-") => Err(SignError::ChunkSigned),
        _ => Ok(Payload::Unsigned),
    }
}

/// Removes the client's signature, date, token and payload-hash headers, and `Expect`
/// (the proxy answered it; AWS's signers leave it out of signatures, so it must not be
/// in the one the proxy makes).
pub fn strip_client_signature(headers: &mut HeaderMap) {
    for h in CLIENT_SIGNING_HEADERS {
        headers.remove(h);
    }
    headers.remove(http::header::EXPECT);
}

/// Signs `req` (its final URI and headers) for `region`/`service` with `keys`; `body` is
/// the whole body for [`Payload::Hashed`].
pub fn sign_request<B>(
    req: &mut http::Request<B>,
    body: Option<&[u8]>,
    payload: Payload,
    region: &str,
    service: &str,
    keys: &SigV4Keys,
) -> Result<(), SignError> {
    let identity: Identity = Credentials::new(
        keys.access_key_id.expose(),
        keys.secret_access_key.expose(),
        keys.session_token.as_ref().map(|t| t.expose().to_string()),
        None,
        "macaroon-proxy",
    )
    .into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        // S3 signs the path as sent, encoded once and not normalized, and wants the
        // payload hash in x-amz-content-sha256.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| SignError::Signer(e.to_string()))?
        .into();
    let mut headers = Vec::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let v = value.to_str().map_err(|_| SignError::Header(name.to_string()))?;
        headers.push((name.as_str(), v));
    }
    let signable_body = match (payload, body) {
        (Payload::Unsigned, _) => SignableBody::UnsignedPayload,
        (Payload::UnsignedTrailer, _) => SignableBody::StreamingUnsignedPayloadTrailer,
        (Payload::Hashed, b) => SignableBody::Bytes(b.unwrap_or_default()),
    };
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(req.method().as_str(), uri, headers.into_iter(), signable_body)
        .map_err(|e| SignError::Signer(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SignError::Signer(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SigV4Keys {
        SigV4Keys::from_json(
            r#"{"access_key_id":"AKIDEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY","session_token":"REAL_SESSION_TOKEN_1"}"#,
        )
        .expect("keys")
    }

    #[test]
    fn s3_streams_unsigned_and_other_services_hash_the_body() {
        let mut h = HeaderMap::new();
        assert_eq!(payload("sts", &h).expect("sts"), Payload::Hashed);
        assert_eq!(payload("s3", &h).expect("s3"), Payload::Unsigned);
        h.insert(
            "x-amz-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse()
                .expect("v"),
        );
        assert_eq!(payload("s3", &h).expect("hex"), Payload::Unsigned);
        h.insert(
            "x-amz-content-sha256",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER".parse().expect("v"),
        );
        assert_eq!(payload("s3", &h).expect("trailer"), Payload::UnsignedTrailer);
        h.insert(
            "x-amz-content-sha256",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().expect("v"),
        );
        assert!(matches!(payload("s3", &h), Err(SignError::ChunkSigned)));
    }

    #[test]
    fn the_forwarded_request_carries_the_real_signature_and_session_token() {
        let mut req = http::Request::post("https://sts.amazonaws.com/")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=MACAROON/x, Signature=dummy",
            )
            .header("x-amz-date", "20000101T000000Z")
            .body(())
            .expect("req");
        strip_client_signature(req.headers_mut());
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        sign_request(&mut req, Some(body), Payload::Hashed, "us-east-1", "sts", &keys()).expect("signed");
        let auth = req.headers()["authorization"].to_str().expect("auth");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/sts/aws4_request"), "{auth}");
        assert!(!auth.contains("wJalrXUtnFEMI"), "{auth}");
        assert_eq!(req.headers()["x-amz-security-token"], "REAL_SESSION_TOKEN_1");
        assert_ne!(req.headers()["x-amz-date"], "20000101T000000Z");
    }

    #[test]
    fn s3_declares_its_unsigned_payload() {
        let mut req = http::Request::get("https://bucket.s3.amazonaws.com/a%20b/c?list-type=2")
            .body(())
            .expect("req");
        sign_request(&mut req, None, Payload::Unsigned, "us-east-1", "s3", &keys()).expect("signed");
        assert_eq!(req.headers()["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    }
}
