//! `Caveat::parse` must never panic, and whatever it accepts prints back byte for byte
//! (the grammar is canonical) and parses to an equal caveat.
#![no_main]

use caveat::Caveat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let caveat = match Caveat::parse(text) {
        Ok(c) => c,
        Err(e) => {
            // Errors point inside the text (1-based character column, one past the end at most).
            assert!(e.column >= 1 && e.column <= text.chars().count() + 2, "{e:?}");
            let _ = e.to_string();
            return;
        }
    };
    let printed = caveat.to_string();
    assert_eq!(printed, text, "an accepted caveat must print back exactly");
    let again = Caveat::parse(&printed).unwrap_or_else(|e| panic!("printed caveat does not parse: {e}"));
    assert_eq!(again, caveat);
    assert_eq!(again.to_string(), printed);
    let _ = caveat.kind();
    let _ = caveat.explain_at(std::time::SystemTime::UNIX_EPOCH);
});
