//! Cases written by someone else from the coverage rules alone (tests/fixtures/unseen): the
//! validator must reject the ones a payer would refuse on sight and pass the ones with
//! documented necessity.

use std::collections::BTreeMap;

use preauth_worker::check::check;

use crate::support::{default_app, root};

#[derive(serde::Deserialize)]
struct Expectation {
    expect: String,
    why: String,
}

#[tokio::test]
async fn unseen_cases_are_rejected_or_submitted_as_their_author_expected() {
    let dir = root().join("tests/fixtures/unseen");
    let text = std::fs::read_to_string(dir.join("expected.toml")).expect("expected.toml");
    let expected: BTreeMap<String, Expectation> =
        toml::from_str(&text).expect("expected.toml parses");
    assert!(
        expected.len() >= 30,
        "the corpus has {} cases",
        expected.len()
    );
    // The rules only (`check --no-fetch`): the corpus is about coverage, and its photos are
    // links to a practice system that is not here.
    let mut app = default_app();
    app.pipeline.attachments = None;
    let mut wrong = Vec::new();
    for (name, exp) in &expected {
        let body = std::fs::read(dir.join(format!("{name}.json"))).expect(name);
        let report = check(&app.pipeline, &body).await;
        let got = if report.submittable {
            "submit"
        } else {
            "reject"
        };
        if got != exp.expect {
            let rules: Vec<String> = report
                .findings
                .iter()
                .map(|f| format!("{}:{:?}", f.rule, f.severity))
                .collect();
            wrong.push(format!(
                "{name}: expected {} ({}), got {got} {rules:?}",
                exp.expect, exp.why
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
