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
