//! One module per command, each one `pub fn run` taking its flags struct from `crate::cli`.

pub mod attenuate;
pub mod completions;
pub mod discharge;
pub mod exec;
pub mod inspect;
pub mod list;
#[cfg(target_os = "linux")]
pub mod mount;
pub mod rm;
pub mod verify;
pub mod wrap;
