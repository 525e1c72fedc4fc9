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
