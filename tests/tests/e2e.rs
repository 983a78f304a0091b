//! End-to-end tests: the real binaries in a fresh home, as a user would run them.

mod cli;
mod keygen;
mod prompt;
mod completions;
