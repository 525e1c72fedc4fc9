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

/// One Dockerfile instruction: its name, its leading `--flags` and the rest.
struct Instruction {
    name: String,
    flags: Vec<String>,
    args: String,
}

fn dockerfile() -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read(&deploy("Dockerfile")).lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let text = std::mem::take(&mut current);
                let (name, mut rest) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
                let mut flags = Vec::new();
                loop {
                    rest = rest.trim_start();
                    if !rest.starts_with("--") {
                        break;
                    }
                    let (flag, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    flags.push(flag.to_owned());
                    rest = after;
                }
                out.push(Instruction {
                    name: name.to_ascii_uppercase(),
                    flags,
                    args: rest.trim().to_owned(),
                });
            }
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_the_worker_in_two_stages_and_runs_it_as_a_non_root_user() {
    let all = dockerfile();
    let froms: Vec<usize> = (0..all.len()).filter(|i| all[*i].name == "FROM").collect();
    let mut problems = Vec::new();
    assert!(froms.len() >= 2, "expected a multi-stage build (two FROM)");
    let image = |i: usize| all[i].args.split_whitespace().next().unwrap_or_default();
    if image(froms[0]) != "rust:1.95-bookworm" {
        problems.push(format!("builder image is {}", image(froms[0])));
    }
    let last = *froms.last().expect("a FROM");
    if image(last) != "debian:bookworm-slim" {
        problems.push(format!("runtime image is {}", image(last)));
    }
    let (builder, runtime) = all.split_at(last);
    let final_one = |name: &str| runtime.iter().rev().find(|c| c.name == name);
    if final_one("USER").is_none_or(|u| u.args.split(':').next() != Some("10001")) {
        problems.push("the runtime stage must run as USER 10001".into());
    }
    let exec_form = |name: &str| {
        final_one(name).and_then(|c| serde_json::from_str::<Vec<String>>(&c.args).ok())
    };
    if exec_form("ENTRYPOINT") != Some(vec!["preauth-worker".to_owned()]) {
        problems.push(r#"ENTRYPOINT must be ["preauth-worker"] (exec form)"#.into());
    }
    if exec_form("CMD") != Some(vec!["run".to_owned()]) {
        problems.push(r#"CMD must be ["run"] (exec form)"#.into());
    }
    if !runtime
        .iter()
        .any(|c| c.name == "EXPOSE" && c.args.split_whitespace().any(|p| p == "9464"))
    {
        problems.push("EXPOSE 9464 missing".into());
    }
    if !runtime
        .iter()
        .any(|c| c.name == "ENV" && c.args.starts_with("PREAUTH__OPS__LISTEN"))
    {
        problems.push("ENV PREAUTH__OPS__LISTEN missing".into());
    }
    if !runtime
        .iter()
        .any(|c| c.name == "COPY" && c.args.ends_with("/usr/local/bin/preauth-worker"))
    {
        problems.push("the binary is not copied to /usr/local/bin/preauth-worker".into());
    }
    if !builder.iter().any(|c| {
        c.name == "RUN"
            && c.args.contains("cargo build")
            && c.args.contains("--locked")
            && c.args.contains("--release")
    }) {
        problems.push("the builder must run cargo build --release --locked".into());
    }
    // Every COPY source of the builder stage (context: the repository root) exists.
    for c in builder.iter().filter(|c| c.name == "COPY") {
        if c.flags.iter().any(|f| f.starts_with("--from")) {
            continue;
        }
        let parts: Vec<&str> = c.args.split_whitespace().collect();
        for src in &parts[..parts.len().saturating_sub(1)] {
            if !root().join(src).exists() {
                problems.push(format!(
                    "COPY source {src} does not exist in the repository"
                ));
            }
        }
    }
    assert_none(&problems);
}

#[test]
fn compose_services_are_hardened_and_take_the_password_and_the_key_from_the_environment() {
    let raw = read(&deploy("compose.yaml"));
    let compose = yaml_doc("compose.yaml");
    let mut problems = Vec::new();
    let guest = regex::Regex::new(r"\bguest\b").expect("regex");
    if guest.is_match(&raw) {
        problems.push("compose.yaml mentions the guest user".to_owned());
    }
    let url_password = regex::Regex::new(r#"://([^:/@\s"']+):([^@\s"']+)@"#).expect("regex");
    for m in url_password.captures_iter(&raw) {
        if !m[2].starts_with("${") {
            problems.push(format!("a URL with a literal password: {}", &m[0]));
        }
    }
    let default_pass = regex::Regex::new(r"RABBITMQ_DEFAULT_PASS:\s*(\S.*)").expect("regex");
    for m in default_pass.captures_iter(&raw) {
        if !m[1].trim_matches(['"', '\'']).starts_with("${") {
            problems.push("RABBITMQ_DEFAULT_PASS is a literal, not from the environment".into());
        }
    }
    let services = compose["services"].as_object().expect("services");
    for (name, svc) in services {
        if svc["read_only"] != Value::Bool(true) {
            problems.push(format!("{name}: read_only is not true"));
        }
        if !svc["cap_drop"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "ALL"))
        {
            problems.push(format!("{name}: cap_drop does not contain ALL"));
        }
        if !svc["security_opt"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "no-new-privileges:true"))
        {
            problems.push(format!("{name}: security_opt lacks no-new-privileges:true"));
        }
        if svc["mem_limit"].is_null() && svc["deploy"]["resources"]["limits"]["memory"].is_null() {
            problems.push(format!("{name}: no memory limit"));
        }
        if svc["tmpfs"].as_array().is_none_or(|t| t.is_empty()) {
            problems.push(format!(
                "{name}: no tmpfs for what it writes (its root file system is read-only)"
            ));
        }
        for port in svc["ports"].as_array().into_iter().flatten() {
            let host_ip = match port {
                Value::Object(long) => long.get("host_ip").map(str_of).map(str::to_owned),
                short => {
                    let s = short
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or(short.to_string());
                    (s.matches(':').count() == 2)
                        .then(|| s.split(':').next().unwrap_or("").to_owned())
                }
            };
            if host_ip.as_deref() != Some("127.0.0.1") {
                problems.push(format!(
                    "{name}: port {port} is not published on 127.0.0.1 only"
                ));
            }
        }
    }
    let worker = &compose["services"]["worker"];
    let targets: Vec<String> = worker["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p {
            Value::Object(long) => long.get("target").map(Value::to_string).unwrap_or_default(),
            short => str_of(short)
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    if !targets.iter().any(|t| t == "9464") {
        problems.push("worker: the ops port 9464 is not published".into());
    }
    let worker_toml: toml::Table =
        toml::from_str(&read(&deploy("config/worker.toml"))).expect("worker.toml");
    let key_file = worker_toml
        .get("security")
        .and_then(|s| s.get("key_file"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    let mounted: BTreeSet<String> = worker["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| match s {
            Value::Object(long) => format!(
                "/run/secrets/{}",
                long.get("target")
                    .or(long.get("source"))
                    .map(str_of)
                    .unwrap_or_default()
            ),
            short => format!("/run/secrets/{}", str_of(short)),
        })
        .collect();
    if !mounted.contains(key_file) {
        problems.push(format!(
            "config/worker.toml: security.key_file {key_file} is not a secret compose mounts {mounted:?}"
        ));
    }
    // The secrets compose mounts come from required variables, never from the file.
    for (name, secret) in compose["secrets"].as_object().into_iter().flatten() {
        if !str_of(&secret["file"]).starts_with("${") || !str_of(&secret["file"]).contains(":?") {
            problems.push(format!(
                "secret {name} is not read from a required variable"
            ));
        }
    }
    assert_none(&problems);
}

/// A file mode as Kubernetes reads it: YAML 1.1, where `0440` is octal (a YAML 1.2 reader
/// leaves it a string).
fn file_mode(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) if s.starts_with("0o") => u64::from_str_radix(&s[2..], 8).ok(),
        Value::String(s) if s.starts_with('0') => u64::from_str_radix(s, 8).ok(),
        other => other.as_u64(),
    }
}

/// A container port by name, or the number itself.
fn port_number(ports: &BTreeMap<String, u64>, port: &Value) -> Option<u64> {
    match port {
        Value::String(name) => ports.get(name).copied(),
        other => other.as_u64(),
    }
}

#[test]
fn kubernetes_ports_secrets_key_file_and_network_policies_agree() {
    let deployment = yaml_doc("kubernetes/deployment.yaml");
    let pod = &deployment["spec"]["template"];
    let labels = pod["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let container = &pod["spec"]["containers"][0];
    let ports: BTreeMap<String, u64> = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["containerPort"].as_u64()?)))
        .collect();
    let worker_toml: toml::Table = toml::from_str(&configmap_worker_toml()).expect("worker.toml");
    let secret_docs = yaml_docs(&deploy("kubernetes/secret-example.yaml"));
    let secrets: BTreeMap<String, BTreeSet<String>> = secret_docs
        .iter()
        .map(|s| {
            let mut keys = BTreeSet::new();
            for section in ["stringData", "data"] {
                keys.extend(
                    s[section]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k.clone()),
                );
            }
            (str_of(&s["metadata"]["name"]).to_owned(), keys)
        })
        .collect();
    let selects = |selector: &Value| {
        selector["matchLabels"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    let listen_port = |section: &str| {
        worker_toml
            .get(section)
            .and_then(|s| s.get("listen"))
            .and_then(toml::Value::as_str)
            .map(|l| l.rsplit(':').next().and_then(|p| p.parse::<u64>().ok()))
    };
    let ops = ports.get("ops").copied();
    let notifications = ports.get("notifications").copied();
    let mut problems = Vec::new();

    // The two ports.
    if ops != Some(9464) {
        problems.push(format!(
            "the Deployment's port `ops` is {ops:?}, expected 9464"
        ));
    }
    match notifications {
        None => problems.push("the Deployment has no port named `notifications`".into()),
        Some(n) if Some(n) == ops => problems.push("notifications and ops share a port".into()),
        Some(_) => {}
    }
    if listen_port("notifications").flatten() != notifications {
        problems.push(format!(
            "ConfigMap notifications.listen is not the container port `notifications` ({notifications:?})"
        ));
    }
    if let Some(port) = listen_port("ops") {
        if port != ops {
            problems.push("ConfigMap ops.listen is not the container port `ops`".into());
        }
    }
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let get = &container[probe]["httpGet"];
        if port_number(&ports, &get["port"]) != ops
            || !["/livez", "/readyz"].contains(&str_of(&get["path"]))
        {
            problems.push(format!("{probe} is not /livez or /readyz on the ops port"));
        }
    }
    let prometheus_port = &pod["metadata"]["annotations"]["prometheus.io/port"];
    if !prometheus_port.is_null()
        && Some(str_of(prometheus_port).to_owned()) != ops.map(|p| p.to_string())
    {
        problems.push("prometheus.io/port is not the ops port".into());
    }

    // Secrets: every reference names a Secret and key of secret-example.yaml.
    for env in container["env"].as_array().into_iter().flatten() {
        let r = &env["valueFrom"]["secretKeyRef"];
        if r.is_object()
            && !secrets
                .get(str_of(&r["name"]))
                .is_some_and(|keys| keys.contains(str_of(&r["key"])))
        {
            problems.push(format!(
                "env {} reads {}/{}, which secret-example.yaml does not define",
                str_of(&env["name"]),
                str_of(&r["name"]),
                str_of(&r["key"])
            ));
        }
    }
    let volumes: BTreeMap<&str, &Value> = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (str_of(&v["name"]), v))
        .collect();
    let mut mounts: BTreeMap<String, (String, Option<u64>)> = BTreeMap::new();
    for m in container["volumeMounts"].as_array().into_iter().flatten() {
        let Some(v) = volumes.get(str_of(&m["name"])) else {
            problems.push(format!(
                "volumeMount {} names no volume",
                str_of(&m["name"])
            ));
            continue;
        };
        let secret = &v["secret"];
        if !secret.is_object() {
            continue;
        }
        let name = str_of(&secret["secretName"]).to_owned();
        let keys = secrets.get(&name).cloned().unwrap_or_default();
        if !secrets.contains_key(&name) {
            problems.push(format!(
                "volume {} mounts Secret {name}, which secret-example.yaml does not define",
                str_of(&m["name"])
            ));
        }
        let files: Vec<(String, String)> = match secret["items"].as_array() {
            Some(items) => items
                .iter()
                .map(|i| (str_of(&i["path"]).to_owned(), str_of(&i["key"]).to_owned()))
                .collect(),
            None => keys.iter().map(|k| (k.clone(), k.clone())).collect(),
        };
        for (path, key) in files {
            if !keys.contains(&key) {
                problems.push(format!(
                    "volume {} maps key {key}, which Secret {name} does not have",
                    str_of(&m["name"])
                ));
            }
            mounts.insert(
                format!("{}/{path}", str_of(&m["mountPath"]).trim_end_matches('/')),
                (name.clone(), file_mode(&secret["defaultMode"])),
            );
        }
        if m["readOnly"] != Value::Bool(true) {
            problems.push(format!(
                "Secret volume {} is not mounted read-only",
                str_of(&m["name"])
            ));
        }
    }
    let key_file = worker_toml
        .get("security")
        .and_then(|s| s.get("key_file"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    match mounts.get(key_file) {
        None => problems.push(format!(
            "security.key_file {key_file:?} is not a file of a mounted Secret ({:?})",
            mounts.keys().collect::<Vec<_>>()
        )),
        Some((name, mode)) => {
            let fs_group = &pod["spec"]["securityContext"]["fsGroup"];
            if mode.is_none_or(|m| m & 0o007 != 0) || fs_group.is_null() {
                problems.push(format!(
                    "the key file's Secret {name} is readable beyond the worker (defaultMode {mode:?}, fsGroup {fs_group})"
                ));
            }
        }
    }

    // The broker over TLS.
    let url = secret_docs
        .iter()
        .find(|s| s["metadata"]["name"] == "preauth-amqp")
        .map(|s| str_of(&s["stringData"]["url"]))
        .unwrap_or_default();
    if !url.starts_with("amqps://") || !url.contains(":5671/") {
        problems.push("the example broker URL is not amqps:// on 5671".into());
    }

    // Service and Ingress: the notifications port only.
    let service = yaml_doc("kubernetes/service.yaml");
    if !selects(&serde_json::json!({ "matchLabels": service["spec"]["selector"] })) {
        problems.push("the Service does not select the worker's pods".into());
    }
    let svc_ports = service["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for p in &svc_ports {
        let target = if p["targetPort"].is_null() {
            &p["port"]
        } else {
            &p["targetPort"]
        };
        if port_number(&ports, target) != notifications {
            problems.push(format!(
                "Service port {} targets {target}, not the notifications port",
                str_of(&p["name"])
            ));
        }
    }
    for ing in yaml_docs(&deploy("kubernetes/ingress-notifications.yaml")) {
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                let backend = &path["backend"]["service"];
                if backend["name"] != service["metadata"]["name"] {
                    problems.push(format!(
                        "Ingress backend {} is not the Service",
                        str_of(&backend["name"])
                    ));
                }
                let port = &backend["port"];
                let known = svc_ports.iter().any(|p| {
                    (!port["name"].is_null() && p["name"] == port["name"])
                        || (!port["number"].is_null() && p["port"] == port["number"])
                });
                if !known {
                    problems.push(format!(
                        "Ingress backend port {port} is not a port of the Service"
                    ));
                }
            }
        }
        if ing["spec"]["tls"].as_array().is_none_or(|t| t.is_empty()) {
            problems.push("the Ingress has no TLS".into());
        }
    }

    // Network policies.
    let policies = yaml_docs(&deploy("kubernetes/networkpolicy.yaml"));
    let empty = serde_json::json!({});
    let default_deny = policies.iter().any(|p| {
        let spec = &p["spec"];
        let types: BTreeSet<&str> = spec["policyTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        spec["podSelector"] == empty
            && types == BTreeSet::from(["Ingress", "Egress"])
            && spec["ingress"].as_array().is_none_or(Vec::is_empty)
            && spec["egress"].as_array().is_none_or(Vec::is_empty)
    });
    if !default_deny {
        problems
            .push("no default-deny policy (podSelector {}, Ingress and Egress, no rules)".into());
    }
    let mut allowed_in: BTreeMap<Option<u64>, BTreeSet<String>> = BTreeMap::new();
    let mut allowed_out: BTreeSet<(String, String)> = BTreeSet::new();
    for p in &policies {
        let spec = &p["spec"];
        let name = str_of(&p["metadata"]["name"]);
        if spec["podSelector"] != empty && !selects(&spec["podSelector"]) {
            problems.push(format!("NetworkPolicy {name} selects no worker pod"));
        }
        for rule in spec["ingress"].as_array().into_iter().flatten() {
            let mut sources = BTreeSet::new();
            let from = rule["from"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![empty.clone()]);
            for f in &from {
                let keys: BTreeSet<&str> = f
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.as_str())
                    .collect();
                if !keys.is_subset(&BTreeSet::from(["namespaceSelector", "podSelector"]))
                    || !keys.contains("namespaceSelector")
                {
                    problems.push(format!(
                        "{name}: an ingress source other than a namespace: {f}"
                    ));
                }
                sources.insert(
                    str_of(&f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
                        .to_owned(),
                );
            }
            let rule_ports = rule["ports"].as_array().cloned().unwrap_or_default();
            if rule_ports.is_empty() {
                problems.push(format!("{name}: an ingress rule without ports"));
            }
            for port in rule_ports {
                let n = port_number(&ports, &port["port"]);
                if n.is_none() {
                    problems.push(format!(
                        "{name}: port {} is not a port of the Deployment",
                        port["port"]
                    ));
                }
                allowed_in
                    .entry(n)
                    .or_default()
                    .extend(sources.iter().cloned());
            }
        }
        for rule in spec["egress"].as_array().into_iter().flatten() {
            match rule["ports"].as_array() {
                Some(list) => {
                    for port in list {
                        let protocol = port["protocol"].as_str().unwrap_or("TCP").to_owned();
                        allowed_out.insert((port["port"].to_string(), protocol));
                    }
                }
                None => {
                    allowed_out.insert(("any".into(), "TCP".into()));
                }
            }
        }
    }
    let only = |ns: &str| Some(BTreeSet::from([ns.to_owned()]));
    if allowed_in.get(&ops).cloned() != only("monitoring") {
        problems.push(format!(
            "the ops port is open to {:?}, expected the monitoring namespace only",
            allowed_in.get(&ops)
        ));
    }
    if allowed_in.get(&notifications).cloned() != only("ingress-nginx") {
        problems.push(format!(
            "the notifications port is open to {:?}, expected the ingress-nginx namespace only",
            allowed_in.get(&notifications)
        ));
    }
    let others: Vec<_> = allowed_in
        .keys()
        .filter(|p| **p != ops && **p != notifications)
        .collect();
    if !others.is_empty() {
        problems.push(format!("other ports are open: {others:?}"));
    }
    let expected: BTreeSet<(String, String)> = [
        ("53", "UDP"),
        ("53", "TCP"),
        ("5671", "TCP"),
        ("443", "TCP"),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_owned(), t.to_owned()))
    .collect();
    if allowed_out != expected {
        problems.push(format!(
            "egress allows {allowed_out:?}, expected DNS (53 UDP/TCP), 5671/TCP and 443/TCP only"
        ));
    }
    assert_none(&problems);
}

/// The KEDA objects' fields (KEDA's documentation: ScaledObject, TriggerAuthentication and the
/// RabbitMQ Queue scaler), unknown fields refused. kubernetes-validate knows only built-in kinds.
fn keda_schemas() -> (Value, Value, Value) {
    use serde_json::json;
    let name =
        json!({"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253});
    let meta = json!({"type": "object", "required": ["name", "namespace"],
        "properties": {"name": name, "namespace": name, "labels": {"type": "object"},
                       "annotations": {"type": "object"}}});
    let str_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let scaled_object = json!({
        "type": "object", "additionalProperties": false,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"},
            "metadata": meta,
            "spec": {
                "type": "object", "additionalProperties": false,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {"type": "object", "additionalProperties": false, "required": ["name"],
                        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                       "name": name, "envSourceContainerName": {"type": "string"}}},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                    "idleReplicaCount": {"type": "integer", "minimum": 0},
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "fallback": {"type": "object"},
                    "advanced": {"type": "object", "additionalProperties": false, "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "scalingModifiers": {"type": "object"},
                        "horizontalPodAutoscalerConfig": {"type": "object", "additionalProperties": false,
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}}}}},
                    "triggers": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "additionalProperties": false, "required": ["type", "metadata"],
                        "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                            "metadata": str_map, "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "authenticationRef": {"type": "object", "additionalProperties": false, "required": ["name"],
                                "properties": {"name": name, "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]}}}}}}
                }
            }
        }
    });
    let rabbitmq_metadata = json!({
        "type": "object", "additionalProperties": false, "required": ["queueName", "mode", "value"],
        "properties": {
            "host": {"type": "string"}, "hostFromEnv": {"type": "string"},
            "usernameFromEnv": {"type": "string"}, "passwordFromEnv": {"type": "string"},
            "protocol": {"enum": ["auto", "http", "amqp"]},
            "mode": {"enum": ["QueueLength", "MessageRate", "DeliverGetRate",
                              "PublishedToDeliveredRatio", "ExpectedQueueConsumptionTime"]},
            "value": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
            "activationValue": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
            "queueName": {"type": "string", "minLength": 1}, "vhostName": {"type": "string"},
            "useRegex": {"enum": ["true", "false"]}, "excludeUnacknowledged": {"enum": ["true", "false"]},
            "operation": {"enum": ["sum", "avg", "max"]}, "pageSize": {"type": "string"},
            "timeout": {"type": "string"}, "unsafeSsl": {"enum": ["true", "false"]}
        }
    });
    let trigger_auth = json!({
        "type": "object", "additionalProperties": false,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
            "metadata": meta,
            "spec": {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                "podIdentity": {"type": "object"},
                "secretTargetRef": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["parameter", "name", "key"],
                    "properties": {"parameter": {"type": "string"}, "name": name, "key": {"type": "string"}}}},
                "env": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["parameter", "name"],
                    "properties": {"parameter": {"type": "string"}, "name": {"type": "string"}, "containerName": {"type": "string"}}}},
                "configMapTargetRef": {"type": "array"}, "hashiCorpVault": {"type": "object"},
                "azureKeyVault": {"type": "object"}, "awsSecretManager": {"type": "object"},
                "gcpSecretManager": {"type": "object"}, "boundServiceAccountToken": {"type": "array"}}}
        }
    });
    (scaled_object, trigger_auth, rabbitmq_metadata)
}

fn schema_problems(schema: &Value, doc: &Value, what: &str) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator
        .iter_errors(doc)
        .map(|e| format!("{what} {}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_keda_scaled_object_has_keda_s_fields_and_names_what_the_other_files_define() {
    let (scaled_object, trigger_auth, rabbitmq_metadata) = keda_schemas();
    let mut problems = Vec::new();
    let mut objects = Vec::new();
    let mut auths = BTreeMap::new();
    for d in yaml_docs(&deploy("kubernetes/keda-scaledobject.yaml")) {
        match str_of(&d["kind"]) {
            "ScaledObject" => {
                problems.extend(schema_problems(&scaled_object, &d, "ScaledObject"));
                objects.push(d);
            }
            "TriggerAuthentication" => {
                problems.extend(schema_problems(&trigger_auth, &d, "TriggerAuthentication"));
                auths.insert(str_of(&d["metadata"]["name"]).to_owned(), d);
            }
            other => problems.push(format!("unexpected kind {other}")),
        }
    }
    let so = objects.first().expect("a ScaledObject");
    let spec = &so["spec"];
    if spec["minReplicaCount"].as_u64().unwrap_or(0)
        > spec["maxReplicaCount"].as_u64().unwrap_or(100)
    {
        problems.push("minReplicaCount > maxReplicaCount".into());
    }
    let deployment = yaml_doc("kubernetes/deployment.yaml");
    if spec["scaleTargetRef"]["name"] != deployment["metadata"]["name"] {
        problems.push("scaleTargetRef.name is not the Deployment's name".into());
    }
    if so["metadata"]["namespace"] != deployment["metadata"]["namespace"] {
        problems.push("ScaledObject and Deployment are in different namespaces".into());
    }
    let definitions: Value =
        serde_json::from_str(&read(&deploy("rabbitmq/definitions.json"))).expect("JSON");
    let queues: BTreeSet<&str> = definitions["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| str_of(&q["name"]))
        .collect();
    let secret_keys: BTreeSet<(String, String)> =
        yaml_docs(&deploy("kubernetes/secret-example.yaml"))
            .iter()
            .flat_map(|s| {
                let name = str_of(&s["metadata"]["name"]).to_owned();
                let data = if s["stringData"].is_object() {
                    &s["stringData"]
                } else {
                    &s["data"]
                };
                data.as_object()
                    .into_iter()
                    .flatten()
                    .map(move |(k, _)| (name.clone(), k.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
    for t in spec["triggers"].as_array().into_iter().flatten() {
        if t["type"] != "rabbitmq" {
            continue;
        }
        problems.extend(schema_problems(
            &rabbitmq_metadata,
            &t["metadata"],
            "rabbitmq trigger metadata",
        ));
        if !queues.contains(str_of(&t["metadata"]["queueName"])) {
            problems.push(format!(
                "queueName {} is not a queue of definitions.json",
                t["metadata"]["queueName"]
            ));
        }
        let has_host = ["host", "hostFromEnv"]
            .iter()
            .any(|k| !t["metadata"][k].is_null());
        match t["authenticationRef"]["name"].as_str() {
            None if !has_host => problems
                .push("the rabbitmq trigger has no host, hostFromEnv or authenticationRef".into()),
            None => {}
            Some(r) => match auths.get(r) {
                None => problems.push(format!(
                    "authenticationRef {r} names no TriggerAuthentication in the file"
                )),
                Some(auth) => {
                    let refs = auth["spec"]["secretTargetRef"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if !has_host && !refs.iter().any(|x| x["parameter"] == "host") {
                        problems.push(format!("TriggerAuthentication {r} gives no host parameter"));
                    }
                    for x in refs {
                        let pair = (str_of(&x["name"]).to_owned(), str_of(&x["key"]).to_owned());
                        if !secret_keys.contains(&pair) {
                            problems.push(format!(
                                "TriggerAuthentication {r} reads {}/{}, which secret-example.yaml does not define",
                                pair.0, pair.1
                            ));
                        }
                    }
                }
            },
        }
    }
    assert_none(&problems);
}

#[test]
fn the_grafana_dashboard_imports_with_a_prometheus_input_and_queries_on_every_panel() {
    let d: Value = serde_json::from_str(&read(&deploy("grafana/preauth-worker.json")))
        .expect("the dashboard is JSON");
    let mut problems = Vec::new();
    for key in ["panels", "title", "schemaVersion", "uid"] {
        if d[key].is_null() {
            problems.push(format!("missing {key}"));
        }
    }
    if d["schemaVersion"] != 39 {
        problems.push(format!(
            "schemaVersion is {}, expected 39",
            d["schemaVersion"]
        ));
    }
    if !d["__inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus")
    {
        problems.push("no DS_PROMETHEUS datasource input".into());
    }
    let mut ids = BTreeSet::new();
    let mut queries = 0;
    for p in d["panels"].as_array().into_iter().flatten() {
        let title = p["title"].to_string();
        for key in ["id", "type", "title", "gridPos"] {
            if p[key].is_null() {
                problems.push(format!("panel {title} has no {key}"));
            }
        }
        if !ids.insert(p["id"].to_string()) {
            problems.push(format!("duplicate panel id {}", p["id"]));
        }
        if p["type"] == "row" {
            continue;
        }
        if p["datasource"]["uid"] != "${DS_PROMETHEUS}" {
            problems.push(format!("panel {title} does not use ${{DS_PROMETHEUS}}"));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("panel {title} has no queries"));
        }
        for t in targets {
            if str_of(&t["expr"]).is_empty() || str_of(&t["refId"]).is_empty() {
                problems.push(format!("panel {title}: a query without expr or refId"));
            }
            queries += 1;
        }
    }
    assert_none(&problems);
    assert!(queries > 0);
}

#[test]
fn the_prometheus_rules_have_the_structure_prometheus_expects() {
    let doc = yaml_doc("prometheus/alerts.yaml");
    let duration = regex::Regex::new(r"^([0-9]+(ms|s|m|h|d|w|y))+$").expect("regex");
    let allowed: BTreeSet<&str> = BTreeSet::from([
        "alert",
        "expr",
        "for",
        "keep_firing_for",
        "labels",
        "annotations",
    ]);
    let mut problems = Vec::new();
    let groups = doc["groups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        problems.push("no groups".to_owned());
    }
    for g in &groups {
        let rules = g["rules"].as_array().cloned().unwrap_or_default();
        if rules.is_empty() {
            problems.push(format!("group {} has no rules", g["name"]));
        }
        for r in rules {
            let alert = r["alert"].to_string();
            if str_of(&r["alert"]).is_empty() || !r["expr"].is_string() {
                problems.push(format!("rule without alert/expr in {}", g["name"]));
            }
            for key in ["for", "keep_firing_for"] {
                if !r[key].is_null() && !duration.is_match(str_of(&r[key])) {
                    problems.push(format!("{alert}: bad {key} {}", r[key]));
                }
            }
            let unknown: Vec<&String> = r
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
                .filter(|k| !allowed.contains(k.as_str()))
                .collect();
            if !unknown.is_empty() {
                problems.push(format!("{alert}: unknown keys {unknown:?}"));
            }
        }
    }
    assert_none(&problems);
}

/// `key = value` lines of a RabbitMQ (cuttlefish) configuration file.
fn rabbitmq_conf(file: &str) -> BTreeMap<String, String> {
    read(&deploy(file))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_broker_message_size_limit_is_above_the_workers_and_production_amqp_is_tls_only() {
    let mut problems = Vec::new();
    let mut sizes = BTreeMap::new();
    for conf in ["rabbitmq/rabbitmq.conf", "rabbitmq/compose.conf"] {
        match rabbitmq_conf(conf)
            .get("max_message_size")
            .map(|v| v.parse::<u64>())
        {
            Some(Ok(size)) => {
                sizes.insert(conf, size);
            }
            _ => problems.push(format!("{conf} does not set max_message_size to a number")),
        }
    }
    if sizes.values().collect::<BTreeSet<_>>().len() > 1 {
        problems.push(format!("max_message_size differs: {sizes:?}"));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let configmap = dir.path().join("configmap-worker.toml");
    std::fs::write(&configmap, configmap_worker_toml()).expect("write");
    let worker_files = [
        ("config/default.toml", None),
        (
            "deploy/config/worker.toml",
            Some(deploy("config/worker.toml")),
        ),
        ("deploy/kubernetes/configmap.yaml", Some(configmap)),
    ];
    for (label, file) in worker_files {
        let settings =
            Settings::load_without_env(file.as_deref()).unwrap_or_else(|e| panic!("{label}: {e}"));
        let max = settings.amqp.max_message_bytes as u64;
        for (conf, size) in &sizes {
            if *size <= max {
                problems.push(format!(
                    "{conf} max_message_size {size} is not above amqp.max_message_bytes {max} ({label})"
                ));
            }
        }
    }
    let production = rabbitmq_conf("rabbitmq/rabbitmq.conf");
    let tcp: Vec<_> = production
        .iter()
        .filter(|(k, _)| k.starts_with("listeners.tcp"))
        .collect();
    if tcp != [(&"listeners.tcp".to_owned(), &"none".to_owned())] {
        problems.push(format!(
            "rabbitmq.conf must set listeners.tcp = none and nothing else for plain AMQP: {tcp:?}"
        ));
    }
    let ssl: Vec<&String> = production
        .iter()
        .filter(|(k, _)| k.starts_with("listeners.ssl"))
        .map(|(_, v)| v)
        .collect();
    if ssl.is_empty() || ssl.iter().any(|v| !v.ends_with("5671")) {
        problems.push(format!(
            "rabbitmq.conf must listen for AMQP on TLS 5671 only: {ssl:?}"
        ));
    }
    assert_none(&problems);
}
