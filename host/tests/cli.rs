//! The command line as an operator meets it. (Building this test also makes
//! cargo build the `resilience-host` binary with the test feature set, which
//! the integration tests in `tests/` then run without a second build.)

use std::process::Command;

fn host(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_resilience-host"))
        .args(args)
        .output()
        .expect("run resilience-host")
}

#[test]
fn help_lists_every_subcommand() {
    let out = host(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "call", "plugins", "check"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
}

#[test]
fn a_missing_config_file_is_named_and_exits_non_zero() {
    let out = host(&["check", "--config", "/nonexistent/resilience.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/resilience.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn a_bad_key_is_named_by_check() {
    let dir = std::env::temp_dir().join(format!("rh-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "[venues.ton]\nplugin = \"ton\"\nendpoints = []\n").unwrap();
    let out = host(&["check", "--config", cfg.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("venues.ton.endpoints"), "{err}");
}
