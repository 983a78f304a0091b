//! `macaroon-proxy`: a thin main over the library, and its memory allocator.
//!
//! jemalloc instead of glibc's malloc. A request allocates a few dozen small blocks and a
//! new connection some 8 KiB ones; an idle connection frees its buffers
//! ([`macaroon_proxy::idle`]). With glibc that cost about 12 % of the proxy's user-space
//! instructions, and freed pages stayed in its arenas until a periodic `malloc_trim`.
//! jemalloc's background thread hands pages freed for a second back to the system on its
//! own. Measured in `docs/performance.md` (2026-11-30, `9c1343b`): fewer instructions per request, less
//! memory at 10,000 idle connections. mimalloc was tried before and dropped for its RSS.

use std::process::ExitCode;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once when it starts (its `malloc_conf`, under the prefix the
/// crate builds it with). Pages a thread freed go back to the system after about 1 s, done
/// by jemalloc's own background thread, so an idle worker does not keep them.
#[cfg(not(target_env = "msvc"))]
#[allow(unsafe_code, non_upper_case_globals)]
// SAFETY: the symbol is jemalloc's `const char *malloc_conf`; the value is a thin pointer
// to a NUL-terminated string that lives for the whole program.
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    macaroon_proxy::cli::main()
}

#[cfg(all(test, not(target_env = "msvc")))]
mod tests {
    use tikv_jemalloc_ctl::raw;

    // A misspelt symbol or option would be ignored without a word: the options are read
    // back from the running allocator.
    #[test]
    fn the_allocator_runs_with_our_options() {
        // SAFETY (of each read): the named option has exactly the type read.
        #[allow(unsafe_code)]
        let (dirty, muzzy, background, running) = unsafe {
            (
                raw::read::<isize>(b"opt.dirty_decay_ms\0").ok(),
                raw::read::<isize>(b"opt.muzzy_decay_ms\0").ok(),
                raw::read::<bool>(b"opt.background_thread\0").ok(),
                raw::read::<bool>(b"background_thread\0").ok(),
            )
        };
        assert_eq!(
            (dirty, muzzy, background, running),
            (Some(1000), Some(0), Some(true), Some(true))
        );
    }

    #[test]
    fn the_options_are_one_nul_terminated_string() {
        let conf = super::malloc_conf;
        assert_eq!(conf.iter().position(|&b| b == 0), Some(conf.len() - 1));
    }
}
