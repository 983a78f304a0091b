//! A count of the steps the matchers and parsers take, for tests that bound their work by
//! operations instead of by the wall clock (which flakes on a slow or busy machine). Only
//! test builds count; elsewhere [`step`] is empty.

#[cfg(test)]
thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one step of work (a comparison, a value read).
#[inline(always)]
pub(crate) fn step() {
    #[cfg(test)]
    STEPS.with(|s| s.set(s.get() + 1));
}

/// Runs `f` and returns its result with the steps it took on this thread.
#[cfg(test)]
pub(crate) fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = STEPS.with(|s| s.get());
    let out = f();
    (out, STEPS.with(|s| s.get()) - before)
}
