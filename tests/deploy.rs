//! The deployment files under deploy/ agree with the worker and with each other: what the worker
//! reads (its configuration files, the broker definitions it declares, the variables it takes)
//! is checked with the worker's own code, and what the manifests say about each other (ports,
//! Secrets, queues, limits) by reading them. scripts/check-deploy.sh runs the external
//! validators (kubernetes-validate, docker compose, systemd-analyze, promtool, RabbitMQ's
//! schemas and a scratch import); nothing here needs a broker or a network.

// The KEDA schemas are json! literals deeper than the default limit.
#![recursion_limit = "256"]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use preauth_worker::amqp::topology::Topology;
use preauth_worker::app::App;
use preauth_worker::config::Settings;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(path: &str) -> PathBuf {
    root().join("deploy").join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file, merge keys (`<<: *anchor`) applied, as JSON values.
fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = read(path);
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let mut value = <serde_norway::Value as serde::Deserialize>::deserialize(doc)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !value.is_null() {
            docs.push(serde_json::to_value(value).expect("YAML with string keys"));
        }
    }
    docs
}

fn yaml_doc(path: &str) -> Value {
    yaml_docs(&deploy(path))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{path}: no document"))
}

fn assert_none(problems: &[String]) {
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The worker.toml of the Kubernetes ConfigMap.
fn configmap_worker_toml() -> String {
    let cm = yaml_doc("kubernetes/configmap.yaml");
    cm["data"]["worker.toml"]
        .as_str()
        .expect("the ConfigMap has data.worker.toml")
        .to_owned()
}

/// Loads a configuration file as `preauth-worker --config FILE` does (without the caller's
/// environment) and builds the worker from it, with the deployment key pointed at a scratch key
/// (the configured path is one on the machine the worker runs on) and a placeholder for each
/// client secret variable the file names.
fn load_and_build(label: &str, text: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("worker.toml");
    std::fs::write(&file, text).expect("write");
    let mut settings =
        Settings::load_without_env(Some(&file)).unwrap_or_else(|e| panic!("{label}: {e}"));
    let configured = settings.security.key_file.clone();
    assert!(
        configured.is_some(),
        "{label}: security.key_file is not set: every worker of a deployment needs the same key"
    );
    let key = dir.path().join("deployment.key");
    std::fs::write(&key, [0x5a_u8; 48]).expect("write the scratch key");
    settings.security.key_file = Some(key);
    // The same for each document store's secret files (paths on the worker's machine).
    let token = dir.path().join("document-store.token");
    std::fs::write(&token, "check-deploy-placeholder").expect("write the scratch token");
    for source in settings.attachments.sources.values_mut() {
        if let preauth_worker::payer::attachments::StoreSettings::Https(h) = &mut source.store {
            if h.token_file.is_some() {
                h.token_file = Some(token.clone());
            }
            if h.client_secret_file.is_some() {
                h.client_secret_file = Some(token.clone());
            }
        }
    }
    let secrets: Vec<String> = settings
        .payers
        .values()
        .filter_map(|p| p.client_secret_env.clone())
        .collect();
    let mut built = None;
    // The jail sets the secret variables for this build alone and restores them.
    #[allow(clippy::result_large_err)]
    figment::Jail::expect_with(|jail| {
        for var in &secrets {
            jail.set_env(var, "check-deploy-placeholder");
        }
        built = Some(App::build(settings).map(|_| ()));
        Ok(())
    });
    if let Some(Err(e)) = built {
        panic!("{label}: the worker does not build from it: {e}");
    }
}

#[test]
fn the_broker_definitions_file_is_what_topology_definitions_prints() {
    let settings = Settings::load_without_env(None).expect("defaults");
    let printed = serde_json::to_value(Topology::from_settings(&settings).definitions("/"))
        .expect("definitions serialise");
    let file: Value = serde_json::from_str(&read(&deploy("rabbitmq/definitions.json")))
        .expect("definitions.json is JSON");
    assert!(
        file == printed,
        "deploy/rabbitmq/definitions.json differs from `preauth-worker topology --definitions`; regenerate it: preauth-worker topology --definitions > deploy/rabbitmq/definitions.json"
    );
}

#[test]
fn the_compose_worker_configuration_loads_and_the_worker_builds_from_it() {
    load_and_build(
        "deploy/config/worker.toml",
        &read(&deploy("config/worker.toml")),
    );
}

#[test]
fn the_kubernetes_configmap_worker_configuration_loads_and_the_worker_builds_from_it() {
    load_and_build(
        "deploy/kubernetes/configmap.yaml worker.toml",
        &configmap_worker_toml(),
    );
}

#[test]
fn every_preauth_variable_the_deployment_files_set_names_a_configuration_key() {
    let settings = Settings::load_without_env(None).expect("defaults");
    let known = toml::Value::try_from(&settings).expect("settings serialise");
    let names = regex::Regex::new(r"\bPREAUTH__[A-Z0-9_]+").expect("regex");
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for file in [
        "Dockerfile",
        "compose.yaml",
        "kubernetes/deployment.yaml",
        "systemd/preauth-worker.service",
    ] {
        for var in names.find_iter(&read(&deploy(file))) {
            let var = var.as_str();
            // Documentation's placeholder, not a variable.
            if var == "PREAUTH__SECTION__KEY" {
                continue;
            }
            seen.insert(var.to_owned());
            let path: Vec<String> = var["PREAUTH__".len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            let mut at = Some(&known);
            for (i, key) in path.iter().enumerate() {
                at = match at {
                    // Payer ids are the operator's: any id, then a payer's keys.
                    Some(toml::Value::Table(t)) if i == 1 && path[0] == "payers" => {
                        t.values().next()
                    }
                    Some(toml::Value::Table(t)) => t.get(key),
                    _ => None,
                };
            }
            let names_a_value = match at {
                Some(toml::Value::Table(_)) => false,
                Some(_) => true,
                // Optional keys the defaults leave unset.
                None => {
                    path.len() == 2
                        && ["security.key_file", "notifications.listen"]
                            .contains(&path.join(".").as_str())
                }
            };
            if !names_a_value {
                problems.push(format!(
                    "{file}: {var} names no configuration key ({})",
                    path.join(".")
                ));
            }
        }
    }
    assert_none(&problems);
    assert!(
        seen.contains("PREAUTH__AMQP__URL") && seen.contains("PREAUTH__OPS__LISTEN"),
        "{seen:?}"
    );
}

#[path = "deploy/containers.rs"]
mod containers;
#[path = "deploy/kubernetes.rs"]
mod kubernetes;
#[path = "deploy/ledger.rs"]
mod ledger;
#[path = "deploy/monitoring.rs"]
mod monitoring;
