//! The README is the operator's reference: it must name every configuration key and every metric.

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

#[test]
fn the_readme_names_every_metric() {
    let text = readme();
    for (name, ..) in METRICS {
        assert!(
            text.contains(name),
            "README.md does not document the metric {name}"
        );
    }
}
