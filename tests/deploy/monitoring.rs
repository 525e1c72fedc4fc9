//! The Grafana dashboard, the Prometheus rules and the RabbitMQ configuration.

use super::*;

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
