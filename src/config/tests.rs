//! The configuration's loading, layering and messages.

use super::*;

fn load(file_text: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("worker.toml");
    if let Some(text) = file_text {
        std::fs::write(&path, text).expect("write");
    }
    let file = file_text.map(|_| path.as_path());
    if env.is_empty() {
        return Settings::load_without_env(file);
    }
    // The real environment layer, over variables set for this test alone (the jail holds a
    // lock and restores them).
    let mut loaded = None;
    // figment's own signature, not ours to shrink.
    #[allow(clippy::result_large_err)]
    figment::Jail::expect_with(|jail| {
        for (key, value) in env {
            jail.set_env(key, value);
        }
        loaded = Some(Settings::load(file));
        Ok(())
    });
    loaded.expect("the jail ran")
}

#[test]
fn shipped_defaults_load_with_the_contract_names() {
    let s = load(None, &[]).expect("defaults");
    assert_eq!(s.topology.cases_exchange, "preauth.cases");
    assert_eq!(s.topology.work_queue, "preauth.cases.work");
    assert_eq!(s.topology.outcomes_exchange, "preauth.outcomes");
    assert_eq!(s.topology.parking_queue, "preauth.cases.dead");
    assert_eq!(s.amqp.max_message_bytes, 1024 * 1024);
    assert_eq!(s.ops.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(s.retry.delays[0], Duration::from_secs(5));
    assert_eq!(s.payers["default"].adapter, Adapter::Simulated);
}

#[test]
fn a_config_file_overrides_the_defaults() {
    let s = load(
        Some("[amqp]\nprefetch = 8\n[retry]\ndelays = [\"1s\", \"2m\"]\n"),
        &[],
    )
    .expect("loads");
    assert_eq!(s.amqp.prefetch, 8);
    assert_eq!(s.amqp.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
    assert_eq!(
        s.retry.delays,
        vec![Duration::from_secs(1), Duration::from_secs(120)]
    );
}

#[test]
fn environment_overrides_the_file() {
    let s = load(
        Some("[amqp]\nurl = \"amqp://file\"\n"),
        &[
            ("PREAUTH__AMQP__URL", "amqp://env:5672"),
            ("PREAUTH__FOLLOWUP__PENDED", "[\"1s\"]"),
            ("OTHER", "x"),
        ],
    )
    .expect("loads");
    assert_eq!(s.amqp.url, "amqp://env:5672");
    assert_eq!(s.followup.pended, vec![Duration::from_secs(1)]);
}

#[test]
fn durations_are_read_and_written_like_5s_1h_8d_and_500ms() {
    let s = load(
        Some("[amqp]\ntimeout = \"500ms\"\n[followup]\npended = [\"5s\", \"1h\", \"8d\"]\n[payers.x]\nadapter = \"simulated\"\nlatency = \"1m 30s\"\n"),
        &[],
    )
    .expect("loads");
    assert_eq!(s.amqp.timeout, Duration::from_millis(500));
    assert_eq!(
        s.followup.pended,
        vec![
            Duration::from_secs(5),
            Duration::from_secs(3600),
            Duration::from_secs(8 * 86_400)
        ]
    );
    assert_eq!(s.payers["x"].simulated.latency, Duration::from_secs(90));
    assert_eq!(s.payers["x"].simulated.retry_after, None);
    let written = toml::to_string(&s).expect("settings serialise");
    assert!(written.contains("timeout = \"500ms\""), "{written}");
    assert!(
        written.contains("pended = [\"5s\", \"1h\", \"8days\"]"),
        "{written}"
    );
    assert!(written.contains("latency = \"1m 30s\""), "{written}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("written.toml");
    std::fs::write(&path, &written).expect("write");
    let again = Settings::load_without_env(Some(&path)).expect("what is written loads");
    assert_eq!(again.followup.pended, s.followup.pended);
    assert_eq!(again.amqp.timeout, s.amqp.timeout);
    assert_eq!(
        again.payers["x"].simulated.latency,
        s.payers["x"].simulated.latency
    );
}

#[test]
fn a_file_that_declares_payers_replaces_the_shipped_payers() {
    let s = load(Some("[payers.acme-health]\nadapter = \"simulated\"\n"), &[]).expect("loads");
    assert_eq!(s.payers.keys().collect::<Vec<_>>(), vec!["acme-health"]);
    assert_eq!(s.payers["acme-health"].policy, "default");
}

#[test]
fn a_file_that_declares_document_stores_replaces_the_shipped_store() {
    let s = load(
        Some("[attachments.sources.pm]\nprefix = \"pm://attachments/\"\nkind = \"https\"\nbase_url = \"https://pm.example/docs/\"\n"),
        &[],
    )
    .expect("a store of another kind under the shipped name loads");
    assert!(matches!(
        s.attachments.sources["pm"].store,
        crate::payer::attachments::StoreSettings::Https(_)
    ));
    let s = load(
        Some("[attachments.sources.share]\nprefix = \"pm://attachments/\"\nkind = \"folder\"\nroot = \"/srv/pm\"\n"),
        &[],
    )
    .expect("loads");
    assert_eq!(
        s.attachments.sources.keys().collect::<Vec<_>>(),
        vec!["share"]
    );
    let s = load(Some("[attachments]\nmax_attachment_bytes = 1024\n"), &[]).expect("loads");
    assert_eq!(s.attachments.sources.keys().collect::<Vec<_>>(), vec!["pm"]);
}

#[test]
fn a_folder_is_on_a_local_disk_unless_it_is_declared_a_share() {
    use crate::payer::attachments::{FolderMount, StoreSettings};
    let mount = |text: &str| match load(Some(text), &[]).map(|s| s.attachments.sources) {
        Ok(sources) => match &sources["docs"].store {
            StoreSettings::Folder { mount, .. } => Ok(*mount),
            _ => Err("not a folder".to_owned()),
        },
        Err(e) => Err(e.to_string()),
    };
    let store = "[attachments.sources.docs]\nprefix = \"pm://attachments/\"\nkind = \"folder\"\nroot = \"/srv/pm\"\n";
    assert_eq!(mount(store), Ok(FolderMount::Local));
    assert_eq!(
        mount(&format!("{store}mount = \"share\"\n")),
        Ok(FolderMount::Share)
    );
    let err = mount(&format!("{store}mount = \"nfs\"\n")).expect_err("unknown");
    assert!(
        err.contains("attachments.sources.docs") && err.contains("\"share\""),
        "{err}"
    );
}

#[test]
fn a_wrong_key_names_itself() {
    let err = load(Some("[amqp]\nprefech = 8\n"), &[])
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("prefech"), "{err}");
    let err = load(None, &[("PREAUTH__TOPOLOGY__WORKQUEUE", "x")])
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("workqueue"), "{err}");
}

#[test]
fn a_wrong_value_names_its_key() {
    let err = load(Some("[retry]\ndelays = [\"5 parsecs\"]\n"), &[])
        .expect_err("bad duration")
        .to_string();
    assert!(
        err.contains("retry.delays") && err.contains("5 parsecs"),
        "{err}"
    );
    let err = load(Some("[amqp]\nprefetch = 0\n"), &[])
        .expect_err("zero")
        .to_string();
    assert!(err.contains("amqp.prefetch"), "{err}");
    let err = load(Some("[payers.x]\nadapter = \"carrier-pigeon\"\n"), &[])
        .expect_err("adapter")
        .to_string();
    assert!(err.contains("payers.x.adapter"), "{err}");
    let err = load(Some("[payers.x]\nadapter = \"fhir-pas\"\n"), &[])
        .expect_err("base_url")
        .to_string();
    assert!(err.contains("payers.x.base_url"), "{err}");
}

#[test]
fn a_toml_syntax_error_names_its_place_but_never_prints_the_line() {
    let err = load(
        Some("[amqp]\nprefetch = 8\nurl = \"amqp://guest:PASSMARK@host\n"),
        &[],
    )
    .expect_err("unterminated string")
    .to_string();
    assert!(err.contains("line 3"), "{err}");
    assert!(!err.contains("PASSMARK"), "{err}");
}

#[test]
fn a_broker_url_that_does_not_parse_is_refused_without_showing_it() {
    for url in [
        "amqp//guest:PASSMARK@127.0.0.1:5672/%2f",
        "http://guest:PASSMARK@h",
        "guest:PASSMARK",
    ] {
        let err = load(None, &[("PREAUTH__AMQP__URL", url)])
            .expect_err("bad url")
            .to_string();
        assert!(err.contains("amqp.url"), "{err}");
        assert!(!err.contains("PASSMARK"), "{err}");
    }
}

#[test]
fn a_payer_over_http_needs_the_explicit_opt_in() {
    let err = load(
        Some("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"http://payer.example/fhir\"\n"),
        &[],
    )
    .expect_err("http")
    .to_string();
    assert!(
        err.contains("payers.x.base_url") && err.contains("allow_insecure_http"),
        "{err}"
    );
    let err = load(
        Some("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\ntoken_url = \"http://p.example/token\"\n"),
        &[],
    )
    .expect_err("http token url")
    .to_string();
    assert!(err.contains("payers.x.token_url"), "{err}");
    load(
        Some("[payers.x]\nadapter = \"fhir-pas\"\nallow_insecure_http = true\nbase_url = \"http://127.0.0.1:9470\"\n"),
        &[],
    )
    .expect("the opt-in allows it");
}

#[test]
fn a_notifying_payer_caps_follow_up_waits_at_seven_days() {
    let payer = "[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\nnotification_credential_file = \"/run/secrets/x\"\n";
    let err = load(
        Some(&format!("[followup]\npended = [\"1h\", \"8d\"]\n{payer}")),
        &[],
    )
    .expect_err("8 days")
    .to_string();
    assert!(
        err.contains("followup.pended") && err.contains("payers.x"),
        "{err}"
    );
    load(
        Some(&format!("[followup]\npended = [\"1h\", \"7d\"]\n{payer}")),
        &[],
    )
    .expect("7 days fits");
    load(
        Some("[followup]\npended = [\"8d\"]\n[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\n"),
        &[],
    )
    .expect("a payer that does not notify waits in the delay tiers, which have no cap");
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let err = Settings::load_without_env(Some(Path::new("/nonexistent/worker.toml")))
        .expect_err("missing")
        .to_string();
    assert!(err.contains("/nonexistent/worker.toml"), "{err}");
}

/// The message of a file that must be refused.
fn refused(file_text: &str) -> String {
    load(Some(file_text), &[]).expect_err("refused").to_string()
}

#[test]
fn a_hold_over_the_consumer_timeout_names_the_key_that_was_changed() {
    let err = refused("[amqp]\ntimeout = \"5 minutes\"\n");
    assert!(
        err.starts_with("configuration: amqp.timeout = \"5 minutes\" (in "),
        "{err}"
    );
    assert!(err.contains("lower amqp.timeout"), "{err}");
    let err = refused("[amqp]\npublish_hold = \"16m\"\n");
    assert!(
        err.starts_with("configuration: amqp.publish_hold = \"16m\""),
        "{err}"
    );
    // Both changed: the larger share is named first, and both are offered.
    let err = refused("[amqp]\npublish_hold = \"10m\"\ntimeout = \"2m\"\n");
    assert!(err.starts_with("configuration: amqp.publish_hold"), "{err}");
    assert!(
        err.contains("lower amqp.publish_hold (shipped default \"5m\") or amqp.timeout"),
        "{err}"
    );
}

#[test]
fn a_log_level_that_would_silence_every_line_is_refused() {
    for bad in [
        "verbose",
        "warnn",
        "info,lapin=warnn",
        "preauth_worker",
        " ",
    ] {
        let err = refused(&format!("[log]\nlevel = \"{bad}\"\n"));
        assert!(err.contains("log.level = "), "{bad}: {err}");
        assert!(err.contains("trace, debug, info, warn or error"), "{err}");
    }
    for good in [
        "info",
        "WARN",
        "off",
        "preauth_worker=debug,warn",
        "info,lapin=warn",
    ] {
        load(Some(&format!("[log]\nlevel = \"{good}\"\n")), &[])
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    assert_eq!(log_filter_problem("debug"), None);
    assert!(log_filter_problem("verbose").is_some());
}

#[test]
fn a_listen_address_names_its_key_its_value_and_how_to_write_one() {
    let err = refused("[ops]\nlisten = \"localhost:9464\"\n");
    assert!(
        err.contains("ops.listen = \"localhost:9464\"")
            && err.contains("an IP address and port such as 127.0.0.1:9464 or [::]:9464"),
        "{err}"
    );
    let err = refused("[notifications]\nlisten = \"0.0.0.0\"\n");
    assert!(err.contains("notifications.listen = \"0.0.0.0\""), "{err}");
    let err = refused("[notifications]\nlisten = \"127.0.0.1:9464\"\n");
    assert!(err.contains("the same address as ops.listen"), "{err}");
}

#[test]
fn the_origin_of_a_value_is_the_file_or_the_variable_that_set_it() {
    let err = load(None, &[("PREAUTH__OPS__LISTEN", "localhost:1")])
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("ops.listen = \"localhost:1\" (from PREAUTH__OPS__LISTEN)"),
        "{err}"
    );
    let err = refused("[amqp]\nprefetch = 0\n");
    assert!(err.contains("amqp.prefetch = 0 (in /"), "{err}");
}

#[test]
fn a_broker_url_is_shown_with_its_password_masked_and_the_schemes_named() {
    for url in [
        "http://guest:PASSMARK@127.0.0.1:5672",
        "amqp//guest:PASSMARK@127.0.0.1:5672/%2f",
        "guest:PASSMARK",
        "amqp://guest:PASSMARK@127.0.0.1:notaport/%2f",
    ] {
        let err = load(None, &[("PREAUTH__AMQP__URL", url)])
            .expect_err("refused")
            .to_string();
        assert!(err.contains("amqp.url = \""), "{err}");
        assert!(err.contains(":***"), "{err}");
        assert!(err.contains("amqp and amqps"), "{err}");
        assert!(!err.contains("PASSMARK"), "{err}");
    }
    let err = load(
        None,
        &[(
            "PREAUTH__AMQP__URL",
            "amqp://a:P1@h1/%2f,ftp://a:PASSMARK@h2",
        )],
    )
    .expect_err("refused")
    .to_string();
    assert!(err.contains("broker URL 2 of 2"), "{err}");
    assert!(!err.contains("PASSMARK") && !err.contains("P1"), "{err}");
}

#[test]
fn a_secret_never_appears_in_a_message() {
    let err = load(
        None,
        &[("PREAUTH__PAYERS__DEFAULT__CLIENT_SECRET", "SECRETMARK")],
    )
    .expect_err("unknown key")
    .to_string();
    assert!(
        err.contains("payers.default.client_secret = \"***\"")
            && err.contains("did you mean payers.default.client_secret_env?"),
        "{err}"
    );
    assert!(!err.contains("SECRETMARK"), "{err}");
    // The secret written where its variable's name belongs.
    let err = refused("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\ntoken_url = \"https://p.example/t\"\nclient_id = \"c\"\nclient_secret_env = \"s3cr3t-SECRETMARK!\"\n");
    assert!(err.contains("payers.x.client_secret_env"), "{err}");
    assert!(!err.contains("SECRETMARK"), "{err}");
}

#[test]
fn a_payer_setting_read_through_the_simulator_table_names_its_own_key() {
    let err = refused("[payers.x]\nadapter = \"simulated\"\nlatency = \"fast\"\n");
    assert!(
        err.contains("payers.x.latency = \"fast\"") && err.contains("a duration such as"),
        "{err}"
    );
    let err = refused("[payers.x]\nadapter = \"simulated\"\nlatencyy = \"1s\"\n");
    assert!(
        err.contains("payers.x.latencyy") && err.contains("did you mean payers.x.latency?"),
        "{err}"
    );
}

#[test]
fn payer_settings_that_could_never_work_are_refused_at_load() {
    let base = "[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\n";
    for (extra, key) in [
        ("timeout = \"0s\"\n", "payers.x.timeout"),
        ("concurrency = 0\n", "payers.x.concurrency"),
        ("rate_per_second = -1.0\n", "payers.x.rate_per_second"),
        ("rate_per_second = nan\n", "payers.x.rate_per_second"),
        ("token_url = \"https://p.example/t\"\n", "payers.x.token_url"),
        ("client_id = \"c\"\n", "payers.x.client_id"),
        (
            "token_url = \"https://p.example/t\"\nclient_id = \"c\"\n",
            "payers.x.client_id",
        ),
        (
            "token_url = \"https://p.example/t\"\nclient_id = \"c\"\nclient_secret_env = \"A\"\nclient_secret_file = \"/f\"\n",
            "payers.x.client_secret_file",
        ),
        ("flaky_percent = 150\n", "payers.x.flaky_percent"),
    ] {
        let err = refused(&format!("{base}{extra}"));
        assert!(err.contains(key), "{extra}: {err}");
    }
    let err = refused("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://\"\n");
    assert!(err.contains("payers.x.base_url = \"https://\""), "{err}");
    let err = refused("[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"ftp://u:PASSMARK@p\"\n");
    assert!(
        err.contains("payers.x.base_url = \"ftp://u:***@p\"") && !err.contains("PASSMARK"),
        "{err}"
    );
}

#[test]
fn queue_and_exchange_names_the_broker_would_refuse_are_refused() {
    for (text, key) in [
        ("[topology]\nwork_queue = \"\"\n", "topology.work_queue"),
        (
            "[topology]\nparking_queue = \"amq.dead\"\n",
            "topology.parking_queue",
        ),
        (
            "[topology]\nparking_queue = \"preauth.cases.work\"\n",
            "topology.parking_queue",
        ),
        (
            "[topology]\noutcomes_exchange = \"preauth.cases\"\n",
            "topology.outcomes_exchange",
        ),
    ] {
        let err = refused(text);
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn an_element_of_a_list_is_named_with_its_index_and_value() {
    let err = refused("[retry]\ndelays = [\"5s\", \"0s\"]\n");
    assert!(err.contains("retry.delays[1] = \"0s\""), "{err}");
    let err = refused("[followup]\npended = [\"5s\", \"soon\"]\n");
    assert!(
        err.contains("followup.pended[1] = \"soon\"") && err.contains("a duration such as"),
        "{err}"
    );
    let err = refused("[retry]\ndelays = \"5s\"\n");
    assert!(err.contains("a list of durations such as"), "{err}");
}

#[test]
fn show_masks_url_passwords_and_secret_keys() {
    let s = load(
        None,
        &[(
            "PREAUTH__AMQP__URL",
            "amqp://worker:PASSMARK@broker:5672/%2f",
        )],
    )
    .expect("loads");
    let shown = s.show();
    assert!(
        shown.contains("url = \"amqp://worker:***@broker:5672/%2f\""),
        "{shown}"
    );
    assert!(!shown.contains("PASSMARK"), "{shown}");
    let mut tree: toml::Value =
        toml::from_str("[a]\napi_token = \"T\"\npassword = 5\nclient_secret_env = \"NAME\"\n")
            .expect("toml");
    report::mask_tree("", &mut tree);
    let text = toml::to_string(&tree).expect("toml");
    assert!(
        text.contains("api_token = \"***\"")
            && text.contains("password = \"***\"")
            && text.contains("client_secret_env = \"NAME\""),
        "{text}"
    );
}

#[test]
fn the_payer_key_list_is_every_key_a_payer_table_takes() {
    let payer = PayerSettings {
        adapter: Adapter::FhirPas,
        policy: "default".into(),
        simulated: crate::payer::sim::Faults {
            retry_after: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        base_url: Some("https://p".into()),
        timeout: Some(Duration::from_secs(1)),
        concurrency: Some(1),
        rate_per_second: Some(1.0),
        token_url: Some("https://p/t".into()),
        scope: Some("s".into()),
        client_id: Some("c".into()),
        client_secret_env: Some("V".into()),
        client_secret_file: Some("/f".into()),
        private_key_file: Some("/k".into()),
        ca_file: Some("/c".into()),
        client_identity_file: Some("/i".into()),
        allow_insecure_http: false,
        max_response_bytes: 1024,
        notification_credential_file: Some("/n".into()),
        subscription: Some(crate::payer::pas::subscription::SubscriptionSettings {
            endpoint: "https://w/pas/notify/p".into(),
            org_identifier: "N1".into(),
            heartbeat_period: None,
            fallback: Default::default(),
            safety_inquiry_after: Duration::from_secs(60),
            safety_inquiries: 1,
        }),
        identity: crate::payer::pas::identity::PayerIdentity {
            payer_name: Some("Acme Health".into()),
            payer_identifier: Some("12345".into()),
            payer_identifier_system: Some("urn:oid:2.16.840.1.113883.6.300".into()),
            member_id_system: Some("https://acme.example/member-id".into()),
            interchange_sender_id: Some("S".into()),
            interchange_receiver_id: Some("R".into()),
            application_sender_code: Some("SA".into()),
            application_receiver_code: Some("RA".into()),
        },
    };
    let value = toml::Value::try_from(&payer).expect("serialises");
    let mut keys: Vec<&str> = value
        .as_table()
        .expect("a table")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut listed = PAYER_KEYS.to_vec();
    listed.sort_unstable();
    assert_eq!(keys, listed);
}

#[test]
fn traces_are_off_by_default_and_an_endpoint_must_be_an_http_url() {
    let s = load(None, &[]).expect("defaults");
    assert_eq!(s.telemetry.otlp_endpoint, None);
    assert_eq!(s.telemetry.service_name, "preauth-worker");
    let on = "[telemetry]\notlp_endpoint = \"http://otel-collector:4318\"\n";
    assert!(load(Some(on), &[]).is_ok());
    for bad in [
        "otel-collector:4318",
        "grpc://otel-collector:4317",
        "http://",
    ] {
        let text = format!("[telemetry]\notlp_endpoint = \"{bad}\"\n");
        let e = load(Some(&text), &[]).expect_err(bad).to_string();
        assert!(e.contains("telemetry.otlp_endpoint"), "{e}");
    }
}

#[test]
fn progress_events_are_on_by_default_and_can_be_turned_off() {
    let s = load(None, &[]).expect("defaults");
    assert!(s.outcomes.progress);
    let off = load(None, &[("PREAUTH__OUTCOMES__PROGRESS", "false")]).expect("env");
    assert!(!off.outcomes.progress);
    let file = load(Some("[outcomes]\nprogress = false\n"), &[]).expect("file");
    assert!(!file.outcomes.progress);
    let e = load(Some("[outcomes]\nprogres = false\n"), &[])
        .expect_err("unknown key")
        .to_string();
    assert!(e.contains("outcomes.progres"), "{e}");
}

#[test]
fn the_console_keys_have_their_defaults_and_their_bounds() {
    let settings = load(None, &[]).expect("defaults");
    assert_eq!(settings.console.listen.to_string(), "127.0.0.1:9480");
    assert_eq!(settings.console.session_ttl, Duration::from_secs(8 * 3600));
    assert!(settings.console.secure_cookies);
    assert_eq!(settings.console.page_size, 50);
    let err = refused("[console]\nsession_ttl = \"10s\"\n");
    assert!(err.contains("console.session_ttl"), "{err}");
    let err = refused("[console]\npage_size = 0\n");
    assert!(err.contains("console.page_size"), "{err}");
    let err = refused("[console]\nlisten = \"127.0.0.1:9464\"\n");
    assert!(err.contains("console.listen"), "{err}");
}

#[test]
fn the_ledger_settings_are_checked_and_name_their_key() {
    let s = load(None, &[]).expect("defaults");
    assert_eq!(s.ledger.queue, "preauth.ledger");
    assert_eq!(s.ledger.batch_size, 500);
    assert_eq!(s.ledger.batch_wait, Duration::from_millis(50));
    assert_eq!(s.ledger.prefetch, 2000);
    let err = refused("[ledger]\nprefetch = 100\n");
    assert!(
        err.starts_with("configuration: ledger.prefetch = 100") && err.contains("batch_size"),
        "{err}"
    );
    let err = refused("[ledger]\nbatch_wait = \"0s\"\n");
    assert!(err.starts_with("configuration: ledger.batch_wait"), "{err}");
    let err = refused("[ledger]\ndatabase_url = \"mysql://u:hunter2hunter2@db/x\"\n");
    assert!(
        err.contains("ledger.database_url") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2hunter2"), "{err}");
    let err = refused("[ledger]\nqueue = \"preauth.cases.work\"\n");
    assert!(err.starts_with("configuration: ledger.queue"), "{err}");
    let s = load(
        Some("[ledger]\ndatabase_url = \"postgres://ledger:hunter2hunter2@db:5432/l\"\n"),
        &[],
    )
    .expect("loads");
    assert!(!s.show().contains("hunter2hunter2"));
}

#[test]
fn a_payer_subscription_that_could_never_work_names_its_key() {
    let payer = "[payers.x]\nadapter = \"fhir-pas\"\nbase_url = \"https://p.example\"\n";
    let credential = "notification_credential_file = \"/n\"\n";
    let table = "[payers.x.subscription]\nendpoint = \"https://w.example/pas/notify/x\"\norg_identifier = \"N123\"\n";
    let ok = load(Some(&format!("{payer}{credential}{table}")), &[]).expect("loads");
    let s = ok.payers["x"].subscription.clone().expect("a subscription");
    assert_eq!(s.safety_inquiry_after, Duration::from_secs(3 * 86_400));
    assert_eq!(s.fallback, crate::payer::pas::subscription::Fallback::Poll);
    let err = refused(&format!("{payer}{table}"));
    assert!(err.contains("payers.x.subscription"), "{err}");
    for (extra, key) in [
        (
            "safety_inquiry_after = \"30d\"\n",
            "payers.x.subscription.safety_inquiry_after",
        ),
        (
            "safety_inquiries = 0\n",
            "payers.x.subscription.safety_inquiries",
        ),
        ("fallback = \"sometimes\"\n", "fallback"),
    ] {
        let err = refused(&format!("{payer}{credential}{table}{extra}"));
        assert!(err.contains(key), "{extra}: {err}");
    }
    let plain = table.replace("https://w", "http://w");
    let err = refused(&format!("{payer}{credential}{plain}"));
    assert!(err.contains("payers.x.subscription.endpoint"), "{err}");
}

#[test]
fn the_process_clock_is_auto_by_default_real_on_request_and_nothing_else() {
    assert_eq!(
        load(None, &[]).expect("defaults").process.clock,
        ProcessClock::Auto
    );
    let real = load(Some("[process]\nclock = \"real\"\n"), &[]).expect("real");
    assert_eq!(real.process.clock, ProcessClock::Real);
    let err = refused("[process]\nclock = \"fast\"\n");
    assert!(
        err.contains("process.clock = \"fast\"") && err.contains("not one of \"auto\" or \"real\""),
        "{err}"
    );
}
