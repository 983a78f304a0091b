//! `Token::decode` on arbitrary text must never panic; whatever decodes must survive
//! every accessor and re-encode (V2, V1, V2JSON) to the same canonical V2 text.
#![no_main]

use caveat::{verify_chain, RootKey, Token, WireFormat};
use libfuzzer_sys::fuzz_target;

/// Differential check of caveat's own V1 reader (crates/caveat/src/v1.rs): whatever it
/// accepts, the `macaroon` crate's V1 reader accepts too and reads as the same macaroon.
/// (The crate's reader recurses per packet, so it only sees small inputs here.)
fn v1_agrees_with_the_macaroon_crate(text: &str, v2: &str) {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
    use base64::{alphabet, Engine};
    const CFG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let text = text.trim();
    let alphabet = if text.contains(['+', '/']) {
        &alphabet::STANDARD
    } else {
        &alphabet::URL_SAFE
    };
    let bin = GeneralPurpose::new(alphabet, CFG)
        .decode(text)
        .expect("caveat decoded this base64");
    if bin.len() > 4096 {
        return;
    }
    let theirs = macaroon::Macaroon::deserialize_binary(&bin)
        .unwrap_or_else(|e| panic!("caveat reads this V1 token, the macaroon crate does not: {e:?}"));
    let theirs = theirs.serialize(macaroon::Format::V2).expect("serialize");
    assert_eq!(theirs.trim_end_matches('='), v2, "the two V1 readers disagree");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(token) = Token::decode(text) else {
        return;
    };
    let v2 = token.encode();
    let _ = token.first_party();
    let _ = token.third_party();
    let _ = token.signature_fingerprint();
    let _ = token.key_id();
    let _ = token.location();
    let _ = token.identifier();
    let _ = token.wire_format();
    let _ = format!("{token:?}");

    for format in [WireFormat::V2, WireFormat::V1, WireFormat::V2Json] {
        let text = token.encode_as(format);
        let again = Token::decode(&text)
            .unwrap_or_else(|e| panic!("{format} re-encoding does not decode: {e}\n{text}"));
        assert_eq!(again.encode(), v2, "{format} round trip changed the token");
        assert_eq!(again.first_party(), token.first_party(), "{format}");
        assert_eq!(again.third_party(), token.third_party(), "{format}");
        assert_eq!(
            again.signature_fingerprint(),
            token.signature_fingerprint(),
            "{format}"
        );
    }

    if token.wire_format() == WireFormat::V1 {
        v1_agrees_with_the_macaroon_crate(text, &v2);
    }

    // Arbitrary root key: must deny (or, by astronomical luck, allow) without panicking.
    let _ = verify_chain(&token, &RootKey::from_bytes([7; 32]), &[]);
    // The token as its own discharge exercises the third-party path too.
    let _ = verify_chain(&token, &RootKey::from_bytes([7; 32]), &[token.clone()]);
});
