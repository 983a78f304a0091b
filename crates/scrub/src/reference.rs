//! A slow, obviously correct matcher over the same rules, for tests and the fuzzer to
//! compare the automaton and its streaming against: it tries every pattern at every
//! offset by walking the expression directly.

use crate::rules::Re;

/// Where matches of `re` starting at `i` in `text` can end.
fn ends(re: &Re, fold_case: bool, text: &[u8], i: usize) -> Vec<usize> {
    match re {
        Re::Set(s) => {
            let s = if fold_case { s.fold_case() } else { *s };
            match text.get(i) {
                Some(&b) if s.contains(b) => vec![i + 1],
                _ => Vec::new(),
            }
        }
        Re::Seq(items) => {
            let mut at = vec![i];
            for item in items {
                let mut next: Vec<usize> = at.iter().flat_map(|&p| ends(item, fold_case, text, p)).collect();
                next.sort_unstable();
                next.dedup();
                at = next;
            }
            at
        }
        Re::Alt(items) => {
            let mut all: Vec<usize> = items.iter().flat_map(|r| ends(r, fold_case, text, i)).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// `text` with every match of every pattern of `secrets` replaced by `*`.
pub fn scrub(secrets: &[&str], fold_case: bool, text: &[u8]) -> Vec<u8> {
    let patterns = crate::patterns(secrets);
    let mut out = text.to_vec();
    for i in 0..text.len() {
        for p in &patterns {
            for e in ends(p, fold_case, text, i) {
                out[i..e].fill(b'*');
            }
        }
    }
    out
}
