//! The README is the operator's reference: it must name every configuration key and every metric
//! (the worker's and the ledger's).

use preauth_worker::config::Settings;
use preauth_worker::ops::METRICS;

use crate::support::root;

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

fn keys(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if key == "payers" {
                    continue;
                }
                keys(&key, v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn the_readme_names_every_configuration_key() {
    let settings = Settings::load_without_env(None).expect("defaults");
    let value = toml::Value::try_from(&settings).expect("settings serialize");
    let mut all = Vec::new();
    keys("", &value, &mut all);
    let text = readme();
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| {
            let (section, last) = k.rsplit_once('.').unwrap_or(("", k));
            !(text.contains(&format!("`{k}`"))
                || text.contains(&format!("`{section}.*`"))
                || text.contains(&format!("{last}`")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not document {missing:?}"
    );
}

/// README.md's metrics reference is `ops::markdown_table()`, verbatim: the table right under
/// "### Metrics". `PREAUTH_UPDATE_README=1 cargo test --test it docs::` rewrites it.
#[test]
fn the_readme_metrics_reference_is_the_catalogue() {
    let table = preauth_worker::ops::markdown_table();
    let text = readme();
    let heading = "### Metrics\n\n";
    let start = text.find(heading).expect("a Metrics section") + heading.len();
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |i| start + i + 1);
    if std::env::var_os("PREAUTH_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &text[..start], &text[end..]);
        std::fs::write(root().join("README.md"), updated).expect("README.md written");
        return;
    }
    assert!(
        text[start..end] == table,
        "README.md's metrics table differs from the catalogue (src/ops/catalogue.rs); \
         PREAUTH_UPDATE_README=1 cargo test --test it docs:: rewrites it. It should read:\n{table}"
    );
    for m in METRICS {
        assert!(table.contains(&format!("`{}`", m.name)));
    }
}

/// README.md's reference of the ledger's metrics is `ledger::metrics::markdown_table()`,
/// verbatim: the table right under "#### The ledger's metrics". `PREAUTH_UPDATE_README=1 cargo
/// test --test it docs::` rewrites it.
#[test]
fn the_readme_ledger_metrics_reference_is_the_ledgers_catalogue() {
    let table = preauth_worker::ledger::metrics::markdown_table();
    let text = readme();
    let heading = "#### The ledger's metrics\n\n";
    let start = text.find(heading).expect("a ledger metrics section") + heading.len();
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |i| start + i + 1);
    if std::env::var_os("PREAUTH_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &text[..start], &text[end..]);
        std::fs::write(root().join("README.md"), updated).expect("README.md written");
        return;
    }
    assert!(
        text[start..end] == table,
        "README.md's ledger metrics table differs from the catalogue (src/ledger/metrics.rs); \
         PREAUTH_UPDATE_README=1 cargo test --test it docs:: rewrites it. It should read:\n{table}"
    );
    for m in preauth_worker::ledger::metrics::METRICS {
        assert!(table.contains(&format!("`{}`", m.name)));
    }
}

/// The `preauth_*` and `process_*` metrics an expression names, each with the label names it
/// matches on in `{…}`.
fn named_metrics(text: &str) -> Vec<(String, Vec<String>)> {
    let metric = regex::Regex::new(r"\b((?:preauth|process)_[a-z_]+)(\{[^}]*\})?").expect("regex");
    let label = regex::Regex::new(r#"([a-z_]+)\s*(?:=~|!~|!=|=)\s*""#).expect("regex");
    metric
        .captures_iter(text)
        .map(|c| {
            let labels = c.get(2).map_or(vec![], |m| {
                label
                    .captures_iter(m.as_str())
                    .map(|l| l[1].to_owned())
                    .collect()
            });
            (c[1].to_owned(), labels)
        })
        .collect()
}

#[test]
fn the_alert_rules_and_the_dashboard_name_only_catalogue_metrics_and_labels_and_no_queue() {
    use preauth_worker::ops::PROCESS_METRICS;
    let files = [
        "deploy/prometheus/alerts.yaml",
        "deploy/grafana/preauth-worker.json",
    ];
    let names_queue = regex::Regex::new(r#"queue\s*(=~|=)\s*""#).expect("regex");
    let mut problems = Vec::new();
    let mut seen = 0;
    for file in files {
        let text = std::fs::read_to_string(root().join(file)).expect("deploy file");
        let exprs: Vec<String> = if file.ends_with(".json") {
            let d: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
            let panels = d["panels"].as_array().cloned().unwrap_or_default();
            panels
                .iter()
                .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
                .filter_map(|t| t["expr"].as_str().map(str::to_owned))
                .chain(
                    d["templating"]["list"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v["definition"].as_str().map(str::to_owned)),
                )
                .collect()
        } else {
            let doc: serde_norway::Value = serde_norway::from_str(&text).expect("rules YAML");
            doc["groups"]
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
                .filter_map(|r| r["expr"].as_str().map(str::to_owned))
                .collect()
        };
        for expr in &exprs {
            if names_queue.is_match(expr) {
                problems.push(format!("{file}: names a queue: {expr}"));
            }
            for (name, labels) in named_metrics(expr) {
                seen += 1;
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name);
                let Some(m) = METRICS
                    .iter()
                    .chain(PROCESS_METRICS)
                    .find(|m| m.name == name || m.name == base)
                else {
                    problems.push(format!("{file}: {name} is not in the catalogue"));
                    continue;
                };
                for l in labels {
                    let known = m.labels.iter().any(|k| k.name == l)
                        || ["job", "instance", "le"].contains(&l.as_str());
                    if !known {
                        problems.push(format!("{file}: {name} has no label {l}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(seen > 20, "only {seen} metric references found");
}

/// The exit-code table of docs/operations.md, between its markers.
fn documented_exit_codes() -> String {
    let text =
        std::fs::read_to_string(root().join("docs/operations.md")).expect("docs/operations.md");
    let begin = text
        .find("<!-- exit-codes:begin")
        .and_then(|i| text[i..].find('\n').map(|n| i + n + 1))
        .expect("the exit-codes:begin marker");
    let end = text
        .find("<!-- exit-codes:end -->")
        .expect("the exit-codes:end marker");
    text[begin..end].to_owned()
}

#[test]
fn the_operations_guide_carries_the_exit_code_table_of_the_code() {
    let documented = documented_exit_codes();
    let expected = preauth_worker::exit::markdown_table();
    if documented != expected && std::env::var_os("PREAUTH_UPDATE_DOCS").is_some() {
        let path = root().join("docs/operations.md");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen(&documented, &expected, 1)).expect("write");
        return;
    }
    assert_eq!(
        documented, expected,
        "docs/operations.md's exit-code table differs from preauth_worker::exit::TABLE; run this test with PREAUTH_UPDATE_DOCS=1 to regenerate it"
    );
}
