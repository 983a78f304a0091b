//! `macaroon-proxy`: a thin main over the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    macaroon_proxy::cli::main()
}
