//! Findings and the rules that make them.
//!
//! Every rule is one value of the [`registry`]: its id, default severity and summary are written
//! there and nowhere else. A [`Finding`] is built only by [`Rule::finding`], and a [`Rule`] only
//! in the registry, so the id and severity a finding carries are always a registered pair.
//!
//! The registry lives here, beside the `Finding` type, because decoding emits findings too and
//! `case` sits below `rules`; `rules` re-exports it.

pub mod registry;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether a finding blocks submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks submission: the case is `rejected`.
    Error,
    /// Reported for a person to look at; the case is still submitted.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A validation rule: a registered id at one severity, with what it checks.
///
/// An id the contract emits at two severities (an error in one situation, a warning in another)
/// is two rules with the same id, one per severity, each saying when it applies.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    id: &'static str,
    severity: Severity,
    summary: &'static str,
    adjustable: bool,
}

impl Rule {
    /// Only the registry declares rules.
    const fn new(id: &'static str, severity: Severity, summary: &'static str) -> Self {
        Self {
            id,
            severity,
            summary,
            adjustable: false,
        }
    }

    /// A rule whose severity a payer policy may set (its `[severity]` table).
    const fn adjustable(self) -> Self {
        Self {
            adjustable: true,
            ..self
        }
    }

    /// The stable id findings carry (`NEC-01`).
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The severity findings of this rule carry unless a payer policy sets another.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// What the rule checks, in one line (the operator's reference).
    pub fn summary(&self) -> &'static str {
        self.summary
    }

    /// True when a payer policy may set this rule's severity.
    pub(crate) fn is_adjustable(&self) -> bool {
        self.adjustable
    }

    /// A finding of this rule at `path`. The message is one sentence for the staff who correct
    /// the case: fixed text, validated codes, vocabulary words and numbers, never case text.
    pub fn finding(&self, path: &str, message: impl Into<String>) -> Finding {
        Finding {
            rule: self.id.to_owned(),
            severity: self.severity,
            path: path.to_owned(),
            message: message.into(),
            sealed: Sealed,
        }
    }
}

/// Keeps `Finding` from being written as a struct literal outside this module: a finding is
/// built by its rule, or read back from an outcome.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Sealed;

/// One problem found in a case event.
///
/// Built by its rule, never written out:
///
/// ```
/// use preauth_worker::case::registry::NEC_01;
/// let f = NEC_01.finding("documentation.indications", "no accepted indication");
/// assert_eq!((f.rule.as_str(), f.is_error()), ("NEC-01", true));
/// ```
///
/// ```compile_fail
/// use preauth_worker::case::{Finding, Severity};
/// let f = Finding {
///     rule: "NEC-01".into(),
///     severity: Severity::Warning,
///     path: String::new(),
///     message: String::new(),
/// };
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (`NEC-01`), one of the registry's.
    pub rule: String,
    pub severity: Severity,
    /// Where in the case event, as a dotted path with indices (`service.procedures[0].units`).
    pub path: String,
    /// One sentence for the staff who correct the case. Never carries patient data.
    pub message: String,
    #[serde(skip)]
    sealed: Sealed,
}

impl Finding {
    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("rule", &self.rule)
            .field("severity", &self.severity)
            .field("path", &self.path)
            .field("message", &self.message)
            .finish()
    }
}
