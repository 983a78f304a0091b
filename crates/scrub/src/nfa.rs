//! The matcher: a position (Glushkov) automaton of the patterns, run as a set of threads.
//! Every state is one byte class of one pattern, so the automaton stays the size of the
//! rules (a few dozen states per secret character), not of the spellings they allow,
//! which are far too many to list. Each thread remembers where its match started, so the
//! streaming caller knows how far back it must hold bytes, and where to mask.

use std::collections::HashMap;

use crate::rules::{ByteSet, Re};

/// The compiled patterns.
pub struct Nfa {
    /// Each state's byte class, an index into `sets`.
    class: Vec<u32>,
    sets: Vec<ByteSet>,
    /// The states that may follow each state: `follow[follow_at[p]..follow_at[p + 1]]`.
    follow_at: Vec<u32>,
    follow: Vec<u32>,
    /// States that end a pattern.
    accept: Vec<bool>,
    /// The first states of every pattern that accept each byte.
    start: Vec<Vec<u32>>,
    /// Bytes that can start a match: everything else is skipped while no thread runs.
    can_start: [bool; 256],
    /// For each of the first [`PAIRS`] offsets of a match, the byte pairs that can stand
    /// there, one bit each (65,536 bits): most bytes that can start a match (an `s`, a
    /// `\\`) are not followed by bytes that can go on with one, and a `\\u2014` is no
    /// spelling of an ASCII character. Checked before any thread starts.
    pairs: Vec<Vec<u64>>,
}

/// Up to this many threads, a step finds duplicates by looking through them.
const FEW_THREADS: usize = 32;

/// How many leading byte pairs of a match the prefilter checks.
const PAIRS: usize = 3;

impl Nfa {
    /// The automaton of `patterns`; with `fold_case`, ASCII letters match either case.
    pub fn new(patterns: &[Re], fold_case: bool) -> Nfa {
        let mut b = Builder {
            class: Vec::new(),
            sets: Vec::new(),
            index: HashMap::new(),
            follow: Vec::new(),
            fold_case,
        };
        let mut firsts = Vec::new();
        let mut lasts = Vec::new();
        for p in patterns {
            let (f, l) = b.add(p);
            firsts.extend(f);
            lasts.extend(l);
        }
        let mut accept = vec![false; b.class.len()];
        for l in lasts {
            accept[l as usize] = true;
        }
        let mut start = vec![Vec::new(); 256];
        let mut can_start = [false; 256];
        for byte in 0..=255u8 {
            for &q in &firsts {
                if b.sets[b.class[q as usize] as usize].contains(byte) {
                    start[usize::from(byte)].push(q);
                    can_start[usize::from(byte)] = true;
                }
            }
        }
        let mut pairs = Vec::new();
        let mut depth: Vec<u32> = firsts.clone();
        for _ in 0..PAIRS {
            let mut bits = vec![0u64; 65536 / 64];
            let mut next = Vec::new();
            for &q in &depth {
                let here = b.sets[b.class[q as usize] as usize];
                for &r in &b.follow[q as usize] {
                    let there = b.sets[b.class[r as usize] as usize];
                    for b0 in (0..=255u8).filter(|&x| here.contains(x)) {
                        for b1 in (0..=255u8).filter(|&x| there.contains(x)) {
                            let pair = usize::from(b0) << 8 | usize::from(b1);
                            bits[pair / 64] |= 1 << (pair % 64);
                        }
                    }
                    next.push(r);
                }
            }
            next.sort_unstable();
            next.dedup();
            depth = next;
            pairs.push(bits);
        }
        let mut follow_at = Vec::with_capacity(b.follow.len() + 1);
        let mut follow = Vec::new();
        for mut f in b.follow {
            follow_at.push(follow.len() as u32);
            f.sort_unstable();
            f.dedup();
            follow.extend(f);
        }
        follow_at.push(follow.len() as u32);
        Nfa {
            class: b.class,
            sets: b.sets,
            follow_at,
            follow,
            accept,
            start,
            can_start,
            pairs,
        }
    }

    /// Where in `bytes` a match may start first: a pair that can start one, or a last byte
    /// that can (its follower is not here yet).
    #[inline]
    fn next_start(&self, bytes: &[u8]) -> Option<usize> {
        // One look-up per byte, in the first pair table: a frequent byte that can start a
        // match (an `s`, a `c`) costs nothing more unless its follower fits too.
        let first = &self.pairs[0];
        let hit = bytes.windows(2).position(|w| {
            let pair = usize::from(w[0]) << 8 | usize::from(w[1]);
            first[pair / 64] >> (pair % 64) & 1 == 1
        });
        hit.or_else(|| {
            let last = *bytes.last()?;
            self.can_start[usize::from(last)].then_some(bytes.len() - 1)
        })
    }

    /// False if no match can start with `bytes` (true if they are too few to tell).
    #[inline]
    fn may_start(&self, bytes: &[u8]) -> bool {
        self.pairs.iter().zip(bytes.windows(2)).all(|(bits, w)| {
            let pair = usize::from(w[0]) << 8 | usize::from(w[1]);
            bits[pair / 64] >> (pair % 64) & 1 == 1
        })
    }

    /// How many byte pairs can start a match.
    pub fn start_pairs(&self) -> usize {
        self.pairs
            .first()
            .map_or(0, |b| b.iter().map(|w| w.count_ones() as usize).sum())
    }

    /// How many states: the automaton's size.
    pub fn states(&self) -> usize {
        self.class.len()
    }

    #[inline]
    fn accepts(&self, q: u32, b: u8) -> bool {
        self.sets[self.class[q as usize] as usize].contains(b)
    }

    #[inline]
    fn follows(&self, p: u32) -> &[u32] {
        &self.follow[self.follow_at[p as usize] as usize..self.follow_at[p as usize + 1] as usize]
    }
}

struct Builder {
    class: Vec<u32>,
    sets: Vec<ByteSet>,
    index: HashMap<ByteSet, u32>,
    follow: Vec<Vec<u32>>,
    fold_case: bool,
}

impl Builder {
    /// Adds the states of `re`; returns its first and last states.
    fn add(&mut self, re: &Re) -> (Vec<u32>, Vec<u32>) {
        match re {
            Re::Set(s) => {
                let s = if self.fold_case { s.fold_case() } else { *s };
                let next = self.sets.len() as u32;
                let class = *self.index.entry(s).or_insert(next);
                if class == next {
                    self.sets.push(s);
                }
                let q = self.class.len() as u32;
                self.class.push(class);
                self.follow.push(Vec::new());
                (vec![q], vec![q])
            }
            Re::Seq(items) => {
                let mut first = None;
                let mut last: Vec<u32> = Vec::new();
                for item in items {
                    let (f, l) = self.add(item);
                    if first.is_none() {
                        first = Some(f);
                    } else {
                        for &p in &last {
                            self.follow[p as usize].extend_from_slice(&f);
                        }
                    }
                    last = l;
                }
                (first.unwrap_or_default(), last)
            }
            Re::Alt(items) => {
                let (mut first, mut last) = (Vec::new(), Vec::new());
                for item in items {
                    let (f, l) = self.add(item);
                    first.extend(f);
                    last.extend(l);
                }
                (first, last)
            }
        }
    }
}

/// The matcher's place in one stream: the threads alive, each with where its match began.
#[derive(Default)]
pub struct Scanner {
    active: Vec<(u32, u64)>,
    next: Vec<(u32, u64)>,
    /// Per state, the step that last added it (so each state runs once per byte, with the
    /// earliest start: the widest match); empty while few threads run.
    mark: Vec<u32>,
    step: u32,
    offset: u64,
}

impl Scanner {
    /// Runs over `chunk`; calls `found(start, end)` (stream offsets) for every match,
    /// including those that began in earlier chunks.
    pub fn scan(&mut self, nfa: &Nfa, chunk: &[u8], found: &mut impl FnMut(u64, u64)) {
        let mut i = 0;
        while i < chunk.len() {
            if self.active.is_empty() {
                // Nothing in progress: skip to the next bytes that can start a match (near
                // the chunk's end, where the followers are not here yet, try what there is).
                loop {
                    match nfa.next_start(&chunk[i..]) {
                        Some(k) => i += k,
                        None => {
                            i = chunk.len();
                            break;
                        }
                    }
                    if nfa.may_start(&chunk[i..chunk.len().min(i + PAIRS + 1)]) {
                        break;
                    }
                    i += 1;
                }
                if i == chunk.len() {
                    break;
                }
            }
            self.step(nfa, chunk[i], self.offset + i as u64, found);
            i += 1;
        }
        self.offset += chunk.len() as u64;
    }

    fn step(&mut self, nfa: &Nfa, b: u8, at: u64, found: &mut impl FnMut(u64, u64)) {
        // A handful of threads is the rule: they are told apart by a look through them. A
        // per-state table (the automaton's size) is made only once there are many.
        if self.active.len() > FEW_THREADS && self.mark.len() != nfa.states() {
            self.mark = vec![0; nfa.states()];
        }
        self.step = self.step.wrapping_add(1);
        if self.step == 0 {
            self.mark.fill(0);
            self.step = 1;
        }
        let Scanner {
            active,
            next,
            mark,
            step,
            ..
        } = self;
        next.clear();
        let mut add = |q: u32, start: u64| {
            if !nfa.accepts(q, b) {
                return;
            }
            if mark.is_empty() {
                if next.iter().any(|&(r, _)| r == q) {
                    return;
                }
            } else if mark[q as usize] == *step {
                return;
            } else {
                mark[q as usize] = *step;
            }
            if nfa.accept[q as usize] {
                found(start, at + 1);
            }
            next.push((q, start));
        };
        // `active` is ordered by start, and new threads start last: `next` keeps that order.
        for &(p, start) in active.iter() {
            for &q in nfa.follows(p) {
                add(q, start);
            }
        }
        for &q in &nfa.start[usize::from(b)] {
            add(q, at);
        }
        std::mem::swap(active, next);
    }

    /// Where the earliest match still in progress began: nothing from there on is final.
    pub fn live_from(&self) -> Option<u64> {
        self.active.first().map(|&(_, s)| s)
    }

    /// How many bytes have been scanned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Forgets the matches in progress (the stream ended).
    pub fn end(&mut self) {
        self.active.clear();
    }
}
