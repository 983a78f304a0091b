//! libmacaroons' V2JSON format, read and written here.
//!
//! The `macaroon` crate's V2JSON reader requires a `"v"` field that pymacaroons omits and
//! rejects unpadded `*64` fields that libmacaroons and pymacaroons write, so it cannot read
//! their tokens. We translate V2JSON to the V2 binary form (which the crate reads
//! correctly) and back; the binary form is the one the signature is defined over anyway.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::token::{b64_decode, URL_SAFE};

/// A caveat. Unknown fields are refused: a token has one meaning, and a field we would
/// ignore is a place to hide something.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Field {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v64: Option<String>,
}

/// The macaroon: the head's fields are written out (not a flattened [`Field`]) because
/// serde cannot refuse unknown fields through `flatten`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Json {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i64: Option<String>,
    #[serde(default)]
    c: Vec<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s64: Option<String>,
}

const EOS: u8 = 0;
const LOCATION: u8 = 1;
const IDENTIFIER: u8 = 2;
const VID: u8 = 4;
const SIGNATURE: u8 = 6;

fn pick(plain: &Option<String>, b64: &Option<String>, what: &str) -> Result<Option<Vec<u8>>, String> {
    match (plain, b64) {
        (Some(_), Some(_)) => Err(format!("both {what} and {what}64 are present")),
        (Some(p), None) => Ok(Some(p.as_bytes().to_vec())),
        (None, Some(b)) => b64_decode(b)
            .map(Some)
            .map_err(|_| format!("{what}64 is not base64")),
        (None, None) => Ok(None),
    }
}

/// Appends one V2 field: tag, varint length, bytes.
pub(crate) fn field(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let mut n = value.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(value);
}

/// Converts V2JSON text to V2 binary.
pub(crate) fn to_binary(text: &str) -> Result<Vec<u8>, String> {
    let j: Json = serde_json::from_str(text)
        .map_err(|e| format!("not V2JSON (line {}, column {})", e.line(), e.column()))?;
    if j.v.is_some_and(|v| v != 2) {
        return Err("unsupported V2JSON version".into());
    }
    let mut out = vec![2u8];
    if let Some(l) = pick(&j.l, &j.l64, "l")? {
        field(LOCATION, &l, &mut out);
    }
    let id = pick(&j.i, &j.i64, "i")?.ok_or("no identifier (i or i64)")?;
    field(IDENTIFIER, &id, &mut out);
    out.push(EOS);
    for c in &j.c {
        if let Some(l) = pick(&c.l, &c.l64, "l")? {
            field(LOCATION, &l, &mut out);
        }
        let cid = pick(&c.i, &c.i64, "i")?.ok_or("a caveat has no id (i or i64)")?;
        field(IDENTIFIER, &cid, &mut out);
        if let Some(v) = pick(&c.v, &c.v64, "v")? {
            field(VID, &v, &mut out);
        }
        out.push(EOS);
    }
    out.push(EOS);
    let sig = pick(&j.s, &j.s64, "s")?.ok_or("no signature (s or s64)")?;
    field(SIGNATURE, &sig, &mut out);
    Ok(out)
}

fn text_or_b64(bytes: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Some(s.to_string()), None),
        Err(_) => (None, Some(URL_SAFE.encode(bytes))),
    }
}

/// Writes a macaroon as V2JSON the way libmacaroons does: text fields as `i`/`l` when
/// they are UTF-8, `*64` (base64url, no padding) otherwise; the signature as `s64`.
pub(crate) fn from_macaroon(m: &macaroon::Macaroon) -> String {
    let (i, i64) = text_or_b64(&m.identifier().0);
    let c = m
        .caveats()
        .into_iter()
        .map(|c| match c {
            macaroon::Caveat::FirstParty(fp) => {
                let (i, i64) = text_or_b64(&fp.predicate().0);
                Field {
                    i,
                    i64,
                    ..Field::default()
                }
            }
            macaroon::Caveat::ThirdParty(tp) => {
                let (i, i64) = text_or_b64(&tp.id().0);
                Field {
                    l: Some(tp.location()),
                    i,
                    i64,
                    v64: Some(URL_SAFE.encode(tp.verifier_id().0)),
                    ..Field::default()
                }
            }
        })
        .collect();
    let j = Json {
        v: Some(2),
        l: m.location(),
        l64: None,
        i,
        i64,
        c,
        s: None,
        s64: Some(URL_SAFE.encode(&*m.signature())),
    };
    serde_json::to_string(&j).unwrap_or_default()
}
