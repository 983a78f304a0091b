//! Which runtime worker the current thread is: each worker has its own upstream pool and
//! metrics shard.

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The runtime worker the current thread is (1-based), or 0 for any other thread.
pub fn current_worker() -> usize {
    WORKER.with(|w| w.get())
}

/// Marks the current thread as runtime worker `i` (1-based, at most the configured
/// workers): requests it serves use that worker's own upstream pool.
pub fn set_worker(i: usize) {
    WORKER.with(|w| w.set(i));
}
