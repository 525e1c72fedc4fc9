//! The invariant every scenario ends with, and one line of the report per scenario.

use super::*;

/// One line of the report.
pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) cases: usize,
    pub(crate) terminal: usize,
    pub(crate) lost: usize,
    /// Events whose outcomes break the contract's ordering rule (see `check`).
    pub(crate) conflicts: usize,
    /// Events whose `failed` was superseded by a later decision (allowed, counted).
    pub(crate) superseded: usize,
    pub(crate) unknown: usize,
    pub(crate) requests_per_case: f64,
    pub(crate) ids_per_case_max: usize,
    pub(crate) recover_s: f64,
    pub(crate) parked: usize,
}

impl Row {
    pub(crate) fn ok(&self) -> bool {
        self.lost == 0
            && self.conflicts == 0
            && self.unknown == 0
            && self.terminal == self.cases
            && self.ids_per_case_max <= 1
    }
}

/// One outcome of an event, as the checker sees it.
pub(crate) struct Seen1 {
    pub(crate) status: String,
    pub(crate) sequence: u64,
}

/// Whether one event's outcomes keep the contract's rule (docs/contract.md, section 5): an
/// outcome id always carries the same status; the outcome with the highest sequence (the
/// event's current state) is terminal, and no other distinct outcome shares its sequence; and
/// every other terminal outcome is either that same one (a duplicate) or a `failed` it
/// supersedes. Returns (conflict, superseded).
pub(crate) fn judge(outcomes: &BTreeMap<String, Vec<Seen1>>) -> (bool, bool) {
    let mut conflict = false;
    for copies in outcomes.values() {
        if copies.iter().any(|c| c.status != copies[0].status) {
            conflict = true;
        }
    }
    // Each distinct outcome at its highest sequence.
    let distinct: Vec<(&String, &Seen1)> = outcomes
        .iter()
        .filter_map(|(id, copies)| copies.iter().max_by_key(|c| c.sequence).map(|c| (id, c)))
        .collect();
    let Some((top_id, top)) = distinct.iter().max_by_key(|(_, c)| c.sequence).copied() else {
        return (true, false);
    };
    if top.status == "pended" {
        conflict = true;
    }
    let mut superseded = false;
    for (id, c) in &distinct {
        if *id == top_id || c.status == "pended" {
            continue;
        }
        if c.sequence == top.sequence || c.status != "failed" {
            conflict = true;
        } else {
            superseded = true;
        }
    }
    (conflict, superseded)
}

/// The invariant checker.
pub(crate) fn check(
    scenario: &'static str,
    published: &BTreeSet<String>,
    got: &[Received],
    seen: &[Seen],
    recover_s: f64,
    parked: usize,
) -> Row {
    let mut by_event: BTreeMap<String, BTreeMap<String, Vec<Seen1>>> = BTreeMap::new();
    let mut unknown = 0;
    for r in got {
        let event = r.body["event_id"].as_str().unwrap_or_default().to_owned();
        if !published.contains(&event) {
            unknown += 1;
            continue;
        }
        by_event
            .entry(event)
            .or_default()
            .entry(r.body["outcome_id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(Seen1 {
                status: r.body["status"].as_str().unwrap_or_default().to_owned(),
                sequence: r.body["sequence"].as_u64().unwrap_or(0),
            });
    }
    let terminal = by_event
        .values()
        .filter(|o| o.values().flatten().any(|c| c.status != "pended"))
        .count();
    let lost = published
        .iter()
        .filter(|e| {
            !by_event
                .get(*e)
                .is_some_and(|o| o.values().flatten().any(|c| c.status != "pended"))
        })
        .count();
    let (mut conflicts, mut superseded) = (0, 0);
    for outcomes in by_event.values() {
        let (c, s) = judge(outcomes);
        conflicts += usize::from(c);
        superseded += usize::from(s && !c);
    }
    // Payer side: submits per request identifier, and request identifiers per case.
    let submits: Vec<&Seen> = seen.iter().filter(|s| s.operation == "submit").collect();
    let ids: BTreeSet<&str> = submits
        .iter()
        .map(|s| s.request_identifier.as_str())
        .collect();
    let requests_per_case = submits.len() as f64 / published.len().max(1) as f64;
    // Each case event has one submission identifier, whatever its retries: more identifiers than
    // events would mean a retried case reached the payer as a new request.
    let ids_per_case_max = if ids.len() > published.len() { 2 } else { 1 };
    Row {
        scenario,
        cases: published.len(),
        terminal,
        lost,
        conflicts,
        superseded,
        unknown,
        requests_per_case,
        ids_per_case_max,
        recover_s,
        parked,
    }
}
