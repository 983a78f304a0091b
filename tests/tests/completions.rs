//! The committed completions match what the binaries generate.

use e2e::Session;

#[test]
fn files_are_current() {
    let s = Session::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../completions");
    for bin in ["macaroon", "macaroon-proxy"] {
        for (shell, file) in [
            ("bash", format!("{bin}.bash")),
            ("zsh", format!("_{bin}")),
            ("fish", format!("{bin}.fish")),
            ("elvish", format!("{bin}.elv")),
            ("powershell", format!("_{bin}.ps1")),
        ] {
            let run = s.run(bin, &["completions", shell]);
            run.ok();
            let committed = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
            assert!(
                committed == run.stdout,
                "completions/{file} is stale: run `bash completions/generate.sh` and commit the result"
            );
        }
    }
}
