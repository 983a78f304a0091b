//! `macaroon`: wrap API keys into macaroons, narrow them offline, inspect and verify them.

use clap::Parser;

/// Scoped, short-lived, offline-attenuable stand-ins for your API keys.
#[derive(Parser, Debug)]
#[command(name = "macaroon", version)]
struct Cli {}

fn main() {
    Cli::parse();
}
