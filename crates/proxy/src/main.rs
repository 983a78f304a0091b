//! `macaroon-proxy`: a thin main over the library, and its memory allocator.
//!
//! mimalloc instead of glibc's malloc: a request allocates a few dozen small blocks, and
//! an idle connection frees its 8 KiB buffers ([`macaroon_proxy::idle`]); mimalloc does
//! both with less CPU, and with immediate purging it hands pages freed by idle
//! connections back to the system at once, where glibc kept them in its arenas until a
//! `malloc_trim`. Measured in `docs/performance.md`.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t`, just before `mi_option_use_numa_nodes`
/// (the enum keeps deprecated entries so that values never move). The crate names no
/// constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    purge_at_once();
    macaroon_proxy::cli::main()
}

/// Freed pages go back to the system when they are freed (by default 1 s later, which only
/// happens on a later allocation by the same thread: an idle worker would keep them).
#[allow(unsafe_code)]
fn purge_at_once() {
    // SAFETY: mi_option_set stores one integer option; any value is valid for it.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_set() {
        assert_eq!(
            MI_OPTION_PURGE_DELAY + 1,
            libmimalloc_sys::mi_option_use_numa_nodes
        );
        // SAFETY: reads one integer option.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000, "mimalloc 3 purges 1000 ms later by default");
    }
}
