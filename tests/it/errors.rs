//! Errors for people: each configuration error names the key the operator wrote, its value
//! (secrets masked) and what to write instead; what can never work stops the worker at start;
//! the broker's refusals are told plainly and end in a bounded time; every command exits with a
//! code of the one table (`preauth_worker::exit`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use preauth_worker::exit;

use crate::support::worker;

/// Runs the binary, killing it (and failing) if it is still running after `limit`.
fn run_within(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    // The local deployment key, and nothing else, goes here rather than into the home folder.
    cmd.env("XDG_STATE_HOME", dir.path());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("binary starts");
    loop {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            return (out, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The exit code and standard error of the binary with `args` and `env`.
fn outcome(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let (out, _) = run_within(worker(args, env), Duration::from_secs(60));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration file with `text`, in a folder that lives as long as the returned guard.
fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.toml");
    std::fs::write(&path, text).expect("write");
    let path = path.to_str().expect("utf-8").to_owned();
    (dir, path)
}

/// `config check` with `text` as the configuration file.
fn config_check(text: &str, env: &[(&str, &str)]) -> (i32, String) {
    let (_dir, path) = config_file(text);
    outcome(&["--config", &path, "config", "check"], env)
}

const CONFIG: i32 = exit::CONFIG as i32;

#[test]
fn an_amqp_timeout_too_long_for_the_consumer_timeout_is_reported_against_amqp_timeout() {
    let (code, err) = config_check("[amqp]\ntimeout = \"5 minutes\"\n", &[]);
    assert_eq!(code, CONFIG, "{err}");
    assert!(err.contains("amqp.timeout = \"5 minutes\" (in "), "{err}");
    assert!(err.contains("lower amqp.timeout"), "{err}");
    assert!(
        !err.contains("configuration: amqp.publish_hold"),
        "a key the operator never set is blamed: {err}"
    );
}

#[test]
fn an_unset_client_secret_variable_names_its_key_and_the_variable() {
    let var = "PREAUTH_TEST_SECRET_THAT_IS_NOT_SET";
    let (code, err) = config_check(
        &format!("[payers.acme]\nadapter = \"fhir-pas\"\nbase_url = \"https://payer.example/fhir\"\ntoken_url = \"https://payer.example/token\"\nclient_id = \"clinic\"\nclient_secret_env = \"{var}\"\n"),
        &[],
    );
    assert_eq!(code, CONFIG, "{err}");
    assert!(
        err.contains(&format!("payers.acme.client_secret_env = \"{var}\""))
            && err.contains(&format!("the environment variable {var} is not set")),
        "{err}"
    );
    assert!(!err.contains("payers.acme.adapter"), "{err}");
}

#[test]
fn a_log_level_that_is_not_a_level_exits_with_the_config_code() {
    for level in ["verbose", "warnn"] {
        let (code, err) = config_check(&format!("[log]\nlevel = \"{level}\"\n"), &[]);
        assert_eq!(code, CONFIG, "{err}");
        assert!(
            err.contains(&format!("log.level = \"{level}\""))
                && err.contains("trace, debug, info, warn or error"),
            "{err}"
        );
        let (code, err) = outcome(&["topology"], &[("PREAUTH__LOG__LEVEL", level)]);
        assert_eq!(code, CONFIG, "{err}");
        assert!(err.contains("(from PREAUTH__LOG__LEVEL)"), "{err}");
        let (code, err) = outcome(&["topology"], &[("RUST_LOG", level)]);
        assert_eq!(code, CONFIG, "{err}");
        assert!(err.contains(&format!("RUST_LOG = \"{level}\"")), "{err}");
    }
}

#[test]
fn a_broker_url_that_can_never_work_stops_run_at_start_with_the_password_masked() {
    for url in [
        "http://clinic:PASSWORDMARK@127.0.0.1:5672/%2f",
        "amqp//clinic:PASSWORDMARK@127.0.0.1:5672/%2f",
        "clinic:PASSWORDMARK",
    ] {
        let (out, took) = run_within(
            worker(
                &["run"],
                &[
                    ("PREAUTH__AMQP__URL", url),
                    ("PREAUTH__OPS__LISTEN", "127.0.0.1:0"),
                ],
            ),
            Duration::from_secs(30),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(CONFIG), "{url}: {err}");
        assert!(took < Duration::from_secs(10), "{url}: took {took:?}");
        assert!(
            err.contains("amqp.url = \"") && err.contains("clinic:***"),
            "{url}: {err}"
        );
        assert!(
            err.contains("the schemes accepted are amqp and amqps"),
            "{err}"
        );
        assert!(!err.contains("PASSWORDMARK"), "{err}");
    }
}

#[test]
fn a_listen_address_with_a_host_name_names_the_key_the_value_and_the_hint() {
    let (code, err) = outcome(&["run"], &[("PREAUTH__OPS__LISTEN", "localhost:9464")]);
    assert_eq!(code, CONFIG, "{err}");
    assert!(
        err.contains("ops.listen = \"localhost:9464\" (from PREAUTH__OPS__LISTEN)")
            && err.contains("an IP address and port such as 127.0.0.1:9464 or [::]:9464"),
        "{err}"
    );
    assert!(!err.contains("invalid socket address syntax"), "{err}");
    let (code, err) = config_check("[notifications]\nlisten = \"localhost:9465\"\n", &[]);
    assert_eq!(code, CONFIG, "{err}");
    assert!(
        err.contains("notifications.listen = \"localhost:9465\"") && err.contains("[::]:9465"),
        "{err}"
    );
}

#[test]
fn every_kind_of_setting_names_its_key_and_its_value() {
    for (text, expected) in [
        ("[amqp]\npublish_hold = \"soon\"\n", "amqp.publish_hold = \"soon\""),
        ("[amqp]\nprefetch = \"many\"\n", "amqp.prefetch = \"many\""),
        ("[retry]\ndelays = [\"5s\", \"0s\"]\n", "retry.delays[1] = \"0s\""),
        ("[security]\nkey_file = \"/nonexistent/deployment.key\"\n", "security.key_file = \"/nonexistent/deployment.key\": cannot read it"),
        ("[rules]\ncode_table = \"/nonexistent/codes.toml\"\n", "rules.code_table = \"/nonexistent/codes.toml\": cannot read it"),
        ("[rules]\npolicy_dir = \"/nonexistent/policies\"\n", "rules.policy_dir = \"/nonexistent/policies\": cannot read it"),
        ("[payers.acme]\nadapter = \"simulated\"\npolicy = \"lenient\"\n", "payers.acme.policy = \"lenient\": not a known policy"),
        ("[payers.acme]\nadapter = \"simulated\"\nlatency = \"fast\"\n", "payers.acme.latency = \"fast\""),
        ("[payers.acme]\nadapter = \"fhir-pas\"\nbase_url = \"https://payer.example\"\nca_file = \"/nonexistent/ca.pem\"\n", "payers.acme.ca_file = \"/nonexistent/ca.pem\": cannot read it"),
        ("[payers.acme]\nadapter = \"fhir-pas\"\nbase_url = \"https://payer.example\"\ntoken_url = \"https://payer.example/t\"\nclient_id = \"c\"\nclient_secret_file = \"/nonexistent/secret\"\n", "payers.acme.client_secret_file = \"/nonexistent/secret\": cannot read it"),
        ("[payers.acme]\nadapter = \"fhir-pas\"\nbase_url = \"https://payer.example\"\ntoken_url = \"https://payer.example/t\"\nclient_id = \"c\"\nprivate_key_file = \"/nonexistent/key.pem\"\n", "payers.acme.private_key_file = \"/nonexistent/key.pem\": cannot read it"),
        ("[payers.acme]\nadapter = \"fhir-pas\"\nbase_url = \"https://payer.example\"\nnotification_credential_file = \"/nonexistent/credential\"\n[notifications]\nlisten = \"127.0.0.1:0\"\n", "payers.acme.notification_credential_file = \"/nonexistent/credential\": cannot read it"),
        ("[payers.acme]\nadapter = \"fhir-pas\"\nbase_url = \"https://payer.example\"\ntimeout = \"0s\"\n", "payers.acme.timeout = \"0s\""),
        ("[amqp]\nprefech = 8\n", "amqp.prefech = 8 (in "),
    ] {
        let (code, err) = config_check(text, &[]);
        assert_eq!(code, CONFIG, "{text}: {err}");
        assert!(err.contains(expected), "{text}: expected {expected:?} in {err}");
    }
}

#[test]
fn config_show_prints_the_merged_settings_with_secrets_masked() {
    let (_dir, path) = config_file("[amqp]\nprefetch = 8\n");
    let (out, _) = run_within(
        worker(
            &["--config", &path, "config", "show"],
            &[(
                "PREAUTH__AMQP__URL",
                "amqp://clinic:PASSWORDMARK@broker:5672/%2f",
            )],
        ),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("url = \"amqp://clinic:***@broker:5672/%2f\""),
        "{text}"
    );
    assert!(text.contains("prefetch = 8"), "{text}");
    assert!(!text.contains("PASSWORDMARK"), "{text}");
    let shown: toml::Table = toml::from_str(&text).expect("TOML");
    assert_eq!(shown["log"]["level"].as_str(), Some("info"));
}

#[test]
fn config_check_passes_on_the_shipped_defaults_and_names_the_key_of_a_bad_file() {
    let (out, _) = run_within(worker(&["config", "check"], &[]), Duration::from_secs(30));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configuration OK"
    );
    let (code, err) = config_check("[amqp]\ndelivery_limit = 1\n", &[]);
    assert_eq!(code, CONFIG);
    assert!(err.contains("amqp.delivery_limit = 1"), "{err}");
}

#[test]
fn help_prints_the_exit_code_table() {
    let (out, _) = run_within(worker(&["--help"], &[]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for (code, meaning) in exit::TABLE {
        assert!(text.contains(&format!("{code:>2}  {meaning}")), "{text}");
    }
}

/// The broker these tests are refused by (the one the broker tests use, with other credentials
/// or another virtual host).
fn refused_by_the_broker(url: &str, args: &[&str], expected: &str) {
    let (out, took) = run_within(
        worker(
            args,
            &[
                ("PREAUTH__AMQP__URL", url),
                ("PREAUTH__OPS__LISTEN", "127.0.0.1:0"),
                ("PREAUTH__LOG__FORMAT", "json"),
            ],
        ),
        Duration::from_secs(90),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::UNAVAILABLE)),
        "{args:?}: {err}"
    );
    assert!(took < Duration::from_secs(60), "{args:?}: took {took:?}");
    let last = err
        .lines()
        .rfind(|l| l.starts_with("preauth-worker: "))
        .unwrap_or_default();
    assert!(last.contains(expected), "{args:?}: {last}\n{err}");
    assert!(!err.contains(":wrong@"), "{err}");
}

#[test]
fn wrong_credentials_stop_the_worker_with_the_unavailable_code_and_a_plain_message() {
    let url = "amqp://nobody:wrong@127.0.0.1:5672/%2f";
    let expected = "the broker refused the credentials for user \"nobody\"";
    refused_by_the_broker(url, &["run"], expected);
    refused_by_the_broker(url, &["parked", "list"], expected);
}

#[test]
fn an_unknown_virtual_host_stops_the_worker_with_the_unavailable_code_and_a_plain_message() {
    let vhost = format!(
        "/no-such-vhost-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let url = format!(
        "amqp://guest:guest@127.0.0.1:5672/{}",
        vhost.replace('/', "%2F")
    );
    refused_by_the_broker(
        &url,
        &["run"],
        &format!("virtual host \"{vhost}\" does not exist or user \"guest\" may not use it"),
    );
}

#[test]
fn a_missing_configuration_file_names_itself_with_the_config_code() {
    let missing = Path::new("/nonexistent/worker.toml");
    let (code, err) = outcome(
        &[
            "--config",
            missing.to_str().expect("utf-8"),
            "config",
            "check",
        ],
        &[],
    );
    assert_eq!(code, CONFIG, "{err}");
    assert!(err.contains("/nonexistent/worker.toml"), "{err}");
}

#[test]
fn an_ops_port_held_by_another_process_names_the_key_and_exits_unavailable() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = held.local_addr().expect("address").to_string();
    let (code, err) = outcome(&["run"], &[("PREAUTH__OPS__LISTEN", &addr)]);
    assert_eq!(code, i32::from(exit::UNAVAILABLE), "{err}");
    assert!(
        err.contains(&format!("ops.listen = \"{addr}\": cannot listen there"))
            && err.contains("another process"),
        "{err}"
    );
}
