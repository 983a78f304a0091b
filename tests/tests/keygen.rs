use e2e::Session;

#[test]
fn keygen_writes_a_private_key_only_its_owner_can_read() {
    let s = Session::new();
    let run = s.run("macaroon-proxy", &["keygen"]);
    run.ok();
    let public = std::fs::read_to_string(s.home().join("proxy.pub")).expect("proxy.pub");
    assert_eq!(run.out(), public.trim(), "prints the public key alone on stdout");
    let key = <caveat::ProxyKeyPair as macaroon_home::KeyPairFiles>::load(&s.home().join("proxy.key"))
        .expect("loads");
    assert_eq!(key.public().to_base64(), public.trim());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.home().join("proxy.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(run.stderr.contains(&key.key_id().to_string()), "{}", run.stderr);
    assert!(!run.stderr.contains(
        &std::fs::read_to_string(s.home().join("proxy.key"))
            .expect("key")
            .trim()
            .to_string()
    ));
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let s = Session::new();
    let first = s.run("macaroon-proxy", &["keygen"]);
    first.ok();
    let again = s.run("macaroon-proxy", &["keygen"]);
    again.code(2);
    assert!(
        again
            .stderr
            .contains("already exists: this home has its proxy key")
            && again.stderr.contains("nothing to do")
            && again.stderr.find("nothing to do") < again.stderr.find("--force"),
        "{}",
        again.stderr
    );
    assert!(again.stdout.is_empty());
    let forced = s.run("macaroon-proxy", &["keygen", "--force"]);
    forced.ok();
    assert_ne!(forced.out(), first.out(), "a new key was generated");
}

#[test]
fn keygen_home_flag_overrides_macaroon_home() {
    let s = Session::new();
    let other = tempfile::tempdir().expect("dir");
    let dir = other.path().join("nested");
    s.run(
        "macaroon-proxy",
        &["keygen", "--home", dir.to_str().expect("utf8")],
    )
    .ok();
    assert!(dir.join("proxy.key").exists());
    assert!(!s.home().join("proxy.key").exists());
}

#[test]
fn keygen_if_missing_creates_a_key_once_then_keeps_it() {
    let s = Session::new();
    let first = s.run("macaroon-proxy", &["keygen", "--if-missing"]);
    first.ok();
    let key = std::fs::read(s.home().join("proxy.key")).expect("key");
    let again = s.run("macaroon-proxy", &["keygen", "--if-missing"]);
    again.ok();
    assert_eq!(again.out(), first.out(), "the same public key, printed again");
    assert!(again.stderr.contains("kept it"), "{}", again.stderr);
    assert_eq!(std::fs::read(s.home().join("proxy.key")).expect("key"), key);
    s.run("macaroon-proxy", &["keygen", "--if-missing", "--force"])
        .code(2);
}
