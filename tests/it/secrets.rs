//! Secrets never printed; endpoints on loopback unless configured otherwise.

use std::net::IpAddr;

use preauth_worker::config::Settings;

use crate::support::{examples, run, worker};

const SECRET: &str = "correct-horse-battery-staple-0451";

#[test]
fn help_topology_errors_and_logs_never_show_a_payer_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, SECRET).expect("write");
    let config = dir.path().join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "[payers.default]\nadapter = \"fhir-pas\"\nallow_insecure_http = true\nbase_url = \"http://127.0.0.1:9\"\ntimeout = \"200ms\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"clinic\"\nclient_secret_file = \"{}\"\n",
            secret_file.display()
        ),
    )
    .expect("write");
    let cfg = config.to_str().expect("utf-8");
    let case = examples().join("01-eyelid-margin-cornea-approved.json");
    let env = [
        ("PAYER_SECRET_FROM_ENV", SECRET),
        ("RUST_LOG", "debug"),
        ("PREAUTH__RETRY__DELAYS", "[\"10ms\"]"),
        ("PREAUTH__RETRY__IN_PROCESS_CALLS", "1"),
    ];
    let runs: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["run", "--help"],
        vec!["payer-sim", "--help"],
        vec!["--config", cfg, "topology"],
        vec!["--config", cfg, "topology", "--definitions"],
        vec!["--config", cfg, "check", case.to_str().expect("utf-8")],
        // The payer is unreachable: the token fetch fails and is reported.
        vec!["--config", cfg, "process", case.to_str().expect("utf-8")],
        // A broken key next to the secret settings: the error names the key, not the secret.
        vec!["--config", cfg, "check", "-"],
    ];
    for args in runs {
        let out = run(worker(&args, &env));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(SECRET), "{args:?} printed the secret:\n{all}");
    }
}

#[test]
fn the_ops_endpoints_and_the_payer_simulator_listen_on_loopback_by_default() {
    let settings = Settings::load_without_env(None).expect("defaults");
    assert!(
        settings.ops.listen.ip().is_loopback(),
        "{}",
        settings.ops.listen
    );
    let help = run(worker(&["payer-sim", "--help"], &[]));
    let text = String::from_utf8_lossy(&help.stdout);
    let default = text
        .split("[default: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("payer-sim --listen has a default");
    let addr: std::net::SocketAddr = default.parse().expect("an address");
    assert!(
        matches!(addr.ip(), IpAddr::V4(ip) if ip.is_loopback()),
        "{addr}"
    );
}
