//! libmacaroons' V1 format, read here and handed to the `macaroon` crate as V2.
//!
//! The crate's V1 reader recurses once per packet; a token of thousands of tiny packets
//! overflowed the stack and aborted the process (found by fuzzing; stack overflow is not a
//! panic, so nothing can catch it). This reader is a loop, and the crate only ever sees
//! V2 binary, which it reads iteratively.

use crate::v2json::field;

/// One caveat's packets: `cl` (location), `cid` (id), `vid` (verifier id).
#[derive(Default)]
struct Packets<'a> {
    cl: Option<&'a [u8]>,
    cid: &'a [u8],
    vid: Option<&'a [u8]>,
}

/// Converts V1 binary (the packets, already base64-decoded) to V2 binary. Reading stops
/// at the signature packet; the caller refuses anything after it (as it refuses every
/// spelling the V1 writer would not produce).
pub(crate) fn to_v2(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut location: Option<&[u8]> = None;
    let mut identifier: Option<&[u8]> = None;
    let mut signature: Option<&[u8]> = None;
    let mut caveats: Vec<Packets> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() && signature.is_none() {
        let size_hex = rest.get(..4).ok_or("truncated packet header")?;
        let size_text = std::str::from_utf8(size_hex).map_err(|_| "packet size is not hex")?;
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "packet size is not hex")?;
        if size < 6 || size > rest.len() {
            return Err("packet size out of range".into());
        }
        let packet = &rest[4..size];
        rest = &rest[size..];
        let body = packet
            .strip_suffix(b"\n")
            .ok_or("packet does not end with a newline")?;
        let space = body.iter().position(|b| *b == b' ').ok_or("packet has no key")?;
        let (key, value) = (&body[..space], &body[space + 1..]);
        match key {
            b"location" if location.is_none() && caveats.is_empty() => location = Some(value),
            b"identifier" if identifier.is_none() && caveats.is_empty() => identifier = Some(value),
            b"cid" if identifier.is_some() => caveats.push(Packets {
                cid: value,
                ..Packets::default()
            }),
            b"vid" => match caveats.last_mut() {
                Some(c) if c.vid.is_none() => c.vid = Some(value),
                _ => return Err("vid without its cid".into()),
            },
            b"cl" => match caveats.last_mut() {
                Some(c) if c.cl.is_none() => c.cl = Some(value),
                _ => return Err("cl without its cid".into()),
            },
            b"signature" if value.len() == 32 => signature = Some(value),
            _ => return Err("unexpected or repeated packet".into()),
        }
    }
    let identifier = identifier.ok_or("no identifier")?;
    let signature = signature.ok_or("no signature")?;
    let mut out = vec![2u8];
    if let Some(l) = location {
        field(1, l, &mut out);
    }
    field(2, identifier, &mut out);
    out.push(0);
    for c in caveats {
        if let Some(l) = c.cl {
            field(1, l, &mut out);
        }
        field(2, c.cid, &mut out);
        if let Some(v) = c.vid {
            field(4, v, &mut out);
        }
        out.push(0);
    }
    out.push(0);
    field(6, signature, &mut out);
    Ok(out)
}
