//! The `check` command: validate case events and show the findings to a person. An input holds
//! one case event, a JSON array of them or JSON lines ([`crate::inputs`]); each gets a report.

use serde::Serialize;

use crate::case::registry::{CFG_01, RULES};
use crate::case::{decode, Finding, Severity};
use crate::inputs::{Entry, InputItem, Inputs, ProblemKind};
use crate::payer::attachments::Problem;
use crate::pipeline::Pipeline;
use crate::rules::{has_errors, validate};

/// Exit codes of `check` (the table of [`crate::exit`]).
pub(crate) const EXIT_SUBMITTABLE: i32 = crate::exit::OK as i32;
pub(crate) const EXIT_FINDINGS: i32 = crate::exit::FINDINGS as i32;
/// An input that is not a case event: EX_DATAERR.
pub const EXIT_UNREADABLE: i32 = crate::exit::DATA as i32;
/// No error found, but a document store did not answer: EX_UNAVAILABLE.
pub const EXIT_UNCHECKED: i32 = crate::exit::UNAVAILABLE as i32;

/// The result of checking one case event.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// Where the case event came from: the file, `file#index` in a JSON array, `file:line` in
    /// JSON lines, or `stdin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub case_id: Option<String>,
    pub event_id: Option<String>,
    pub policy: Option<String>,
    pub submittable: bool,
    /// Set when the input cannot be read as a case event at all.
    pub unreadable: Option<String>,
    pub findings: Vec<Finding>,
    /// Set when a document store did not answer: the photos and the letter were not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents_unchecked: Option<String>,
}

impl CheckReport {
    pub fn exit_code(&self) -> i32 {
        if self.unreadable.is_some() {
            EXIT_UNREADABLE
        } else if !self.submittable {
            EXIT_FINDINGS
        } else if self.documents_unchecked.is_some() {
            EXIT_UNCHECKED
        } else {
            EXIT_SUBMITTABLE
        }
    }

    /// The report for an input that is not a case event.
    fn unreadable(input: Option<String>, why: String) -> Self {
        Self {
            input,
            case_id: None,
            event_id: None,
            policy: None,
            submittable: false,
            unreadable: Some(why),
            findings: Vec::new(),
            documents_unchecked: None,
        }
    }

    /// The report for a person.
    pub fn render(&self) -> String {
        if let Some(why) = &self.unreadable {
            return format!("unreadable: {why}\n");
        }
        let errors = self.findings.iter().filter(|f| f.is_error()).count();
        let warnings = self.findings.len() - errors;
        let mut s = format!(
            "case {} (event {}), payer policy {}: {} error(s), {} warning(s): {}\n",
            self.case_id.as_deref().unwrap_or("?"),
            self.event_id.as_deref().unwrap_or("?"),
            self.policy.as_deref().unwrap_or("none"),
            errors,
            warnings,
            if self.submittable {
                "submittable"
            } else {
                "NOT submittable"
            }
        );
        if let Some(why) = &self.documents_unchecked {
            s.push_str(&format!("  documents not checked: {why}\n"));
        }
        for f in &self.findings {
            let sev = f.severity.as_str();
            s.push_str(&format!(
                "  {sev:<7}  {:<10}  {}\n           {}\n",
                f.rule, f.path, f.message
            ));
        }
        s
    }
}

/// One rule of the catalogue, as `check --rules --json` prints it.
#[derive(Debug, Serialize)]
struct CatalogueEntry {
    rule: &'static str,
    severity: Severity,
    /// A payer policy may set this rule's severity (its `[severity]` table).
    policy_may_set: bool,
    checks: &'static str,
}

/// The rule catalogue for a person (`check --rules`) or, with `json`, for a program.
pub fn catalogue(json: bool) -> String {
    if json {
        let entries: Vec<CatalogueEntry> = RULES
            .iter()
            .map(|r| CatalogueEntry {
                rule: r.id(),
                severity: r.severity(),
                policy_may_set: r.is_adjustable(),
                checks: r.summary(),
            })
            .collect();
        return serde_json::to_string_pretty(&entries)
            .map(|s| s + "\n")
            .unwrap_or_default();
    }
    let mut s = format!("{:<10}  {:<8} checks\n", "rule", "severity");
    for r in RULES {
        let severity = format!(
            "{}{}",
            r.severity().as_str(),
            if r.is_adjustable() { "*" } else { "" }
        );
        s.push_str(&format!("{:<10}  {severity:<8} {}\n", r.id(), r.summary()));
    }
    s.push_str("\n* a payer policy may set this severity ([severity] in its file)\n");
    s
}

/// The reports of a run over several inputs, in input order.
#[derive(Debug)]
pub struct CheckRun {
    pub reports: Vec<CheckReport>,
}

impl CheckRun {
    /// Checks every case event read, in order; what could not be read gets an unreadable report.
    /// Problems of the kind "nothing to read" are left to the caller (see [`crate::inputs`]).
    pub async fn new(pipeline: &Pipeline, inputs: Inputs) -> Self {
        let mut reports = Vec::new();
        for e in inputs.entries {
            match e {
                Entry::Event(item) => reports.push(check_item(pipeline, &item).await),
                Entry::Problem(p) if p.kind == ProblemKind::Unreadable => {
                    let why = match p.reason {
                        Some(reason) => format!("{} ({reason})", p.detail),
                        None => p.detail,
                    };
                    reports.push(CheckReport::unreadable(Some(p.label), why));
                }
                Entry::Problem(_) => {}
            }
        }
        Self { reports }
    }

    /// The worst of the reports: unreadable (65), findings with errors (1), documents unchecked
    /// because a store did not answer (69), else 0.
    pub fn exit_code(&self) -> i32 {
        // Worst first: unreadable, then findings with errors, then documents unchecked.
        [EXIT_UNREADABLE, EXIT_FINDINGS, EXIT_UNCHECKED]
            .into_iter()
            .find(|code| self.reports.iter().any(|r| r.exit_code() == *code))
            .unwrap_or(EXIT_SUBMITTABLE)
    }

    /// One report as it always was; several, each under the input it came from.
    pub fn render(&self) -> String {
        match self.reports.as_slice() {
            [one] => one.render(),
            many => many
                .iter()
                .map(|r| format!("{}: {}", r.input.as_deref().unwrap_or("?"), r.render()))
                .collect(),
        }
    }

    /// One report as a JSON object; several as a JSON array of them.
    pub fn to_json(&self) -> String {
        let text = match self.reports.as_slice() {
            [one] => serde_json::to_string_pretty(one),
            many => serde_json::to_string_pretty(many),
        };
        text.map(|s| s + "\n").unwrap_or_default()
    }
}

/// `check FILE`: reads the case events, prints their reports (`json` for a program) and returns
/// the exit code. Nothing to read goes to standard error and exits 66.
pub async fn run_command(pipeline: &Pipeline, file: &std::path::Path, json: bool) -> u8 {
    use std::io::Write;
    let read = crate::inputs::read(std::slice::from_ref(&file.to_path_buf()));
    // Nothing to read is not a report: it goes to stderr and decides the exit code.
    let nothing: Vec<String> = read
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Problem(p) if p.kind == ProblemKind::NoInput => Some(p.line()),
            _ => None,
        })
        .collect();
    for line in &nothing {
        eprintln!("{line}");
    }
    let run = CheckRun::new(pipeline, read).await;
    if !run.reports.is_empty() {
        let text = if json { run.to_json() } else { run.render() };
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    if !nothing.is_empty() {
        return crate::exit::NO_INPUT;
    }
    u8::try_from(run.exit_code()).unwrap_or(crate::exit::SOFTWARE)
}

async fn check_item(pipeline: &Pipeline, item: &InputItem) -> CheckReport {
    let mut report = check(pipeline, &item.body).await;
    report.input = Some(item.label.clone());
    report
}

/// Checks one case event body the way the pipeline would before submitting it: the rules, then
/// the photos and the letter fetched from their stores (unless fetching is switched off).
pub async fn check(pipeline: &Pipeline, body: &[u8]) -> CheckReport {
    let mut report = CheckReport {
        input: None,
        case_id: None,
        event_id: None,
        policy: None,
        submittable: false,
        unreadable: None,
        findings: Vec::new(),
        documents_unchecked: None,
    };
    let id = match crate::inputs::screen_body(body, pipeline.max_message_bytes) {
        Ok(id) => id,
        Err((code, detail)) => return CheckReport::unreadable(None, format!("{detail} ({code})")),
    };
    report.case_id = Some(id.case_id.clone());
    report.event_id = Some(id.event_id.clone());
    let case = match decode(&id, None) {
        Ok(case) => case,
        Err(findings) => {
            report.findings = findings;
            return report;
        }
    };
    let Some(route) = pipeline.payers.route(&case.coverage.payer_id) else {
        // The payer id matched no configured payer, so it is an unchecked input value: the
        // path names it, the message does not repeat it.
        report.findings.push(CFG_01.finding(
            "coverage.payer_id",
            "this payer is not configured and there is no default payer",
        ));
        return report;
    };
    report.policy = Some(route.policy.name.clone());
    report.findings = validate(&case, &route.policy, &pipeline.codes);
    // Every problem at once: the documents are checked even when a rule already failed.
    if let Some(attachments) = &pipeline.attachments {
        match attachments.resolve(&case, None).await {
            Ok(_) => {}
            Err(Problem::Rejected(mut problems)) => report.findings.append(&mut problems),
            Err(Problem::Unavailable(detail)) => report.documents_unchecked = Some(detail),
        }
    }
    report.submittable = !has_errors(&report.findings);
    report
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::codes::CodeTable;
    use crate::pipeline::PayerDirectory;
    use crate::retry::{InProcessRetry, Schedule};
    use crate::rules::testing::base;

    #[tokio::test]
    async fn an_unconfigured_payer_is_reported_without_repeating_its_id() {
        let pipeline = Pipeline {
            codes: Arc::new(CodeTable::embedded().expect("codes")),
            payers: PayerDirectory::default(),
            retry: Schedule::new(vec![Duration::from_secs(5)]),
            followup: Schedule::new(vec![Duration::from_secs(5)]),
            in_process: InProcessRetry::none(),
            max_message_bytes: 1 << 20,
            attachments: None,
            clock: Arc::new(chrono::Utc::now),
            sleeper: Default::default(),
        };
        let mut v = base();
        v["coverage"]["payer_id"] = serde_json::json!("ivan-petrov-health");
        let report = check(&pipeline, &serde_json::to_vec(&v).expect("json")).await;
        assert_eq!(report.findings.len(), 1, "{report:?}");
        let f = &report.findings[0];
        assert_eq!(
            (f.rule.as_str(), f.path.as_str()),
            ("CFG-01", "coverage.payer_id")
        );
        assert!(!f.message.contains("ivan"), "{f:?}");
        assert!(!report.render().contains("ivan"), "{}", report.render());
    }

    #[test]
    fn the_catalogue_lists_every_rule_once_with_its_severity() {
        let text = catalogue(false);
        assert_eq!(text.lines().count(), RULES.len() + 3, "{text}");
        assert!(
            text.contains("COS-01      error    a diagnosis the payer policy lists"),
            "{text}"
        );
        assert!(text.contains("DOC-05      warning* no record"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&catalogue(true)).expect("json");
        let entries = json.as_array().expect("array");
        assert_eq!(entries.len(), RULES.len());
        assert_eq!(entries[0]["rule"], "DEC-01");
        assert_eq!(entries[0]["severity"], "error");
        assert_eq!(entries[0]["policy_may_set"], false);
    }
}
