//! A check of a PAS request Bundle (or a PAS Subscription) against the Da Vinci PAS 2.2.1
//! profiles, as a validating payer applies them: cardinalities, fixed values and patterns,
//! required bindings, extension cardinality, reference targets (by the referenced entry's
//! `meta.profile`) and invariants, read from the IG's FSH into [`table`]; plus the usage rules
//! of the specification pages a payer enforces in practice ([`usage`]).
//!
//! Which profile applies to a resource is decided by its `meta.profile`; the Bundle's own
//! profile (request or inquiry) by its `meta.profile`, else by the Claim it carries.
//!
//! A [`Violation`] names the profile, the element path, a short rule id and the FSH or
//! specification line it comes from, never a value of the bundle: it may be logged.

mod eval;
mod table;
mod usage;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

pub use table::constraint_counts;
use table::{Rule, PROFILES};

/// One way a bundle departs from the PAS profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The profile (name) the rule belongs to: `PASClaim`, `PASRequestBundle`…
    pub profile: &'static str,
    /// FHIRPath-like, from the Bundle: `Bundle.entry[0].resource.item[0].quantity`.
    pub path: String,
    /// Short rule id: `cardinality`, `required-binding`, `self-beneficiary`, `trn-value`…
    pub rule: &'static str,
    /// Where the rule comes from: `Claim.fsh:77`, `specification.md:68 spec-16`.
    pub source: &'static str,
    /// Element names and profile codes only, never a value of the bundle.
    pub message: String,
}

impl Violation {
    /// The OperationOutcome issue code for this violation: `structure` for cardinality,
    /// references and Bundle layout, `invariant` for the rest.
    pub fn issue_code(&self) -> &'static str {
        match self.rule {
            "cardinality" | "reference-target" | "reference-resolves" | "fullurl-form"
            | "fullurl-unique" | "ClaimFirst" | "claim-entries" | "resource-type" => "structure",
            _ => "invariant",
        }
    }
}

/// Where violations go, with the profile currently being checked.
pub(super) struct Out<'a> {
    profile: &'static str,
    violations: &'a mut Vec<Violation>,
}

impl Out<'_> {
    fn push(&mut self, path: String, rule: &Rule, message: String) {
        self.violations.push(Violation {
            profile: self.profile,
            path,
            rule: rule.id,
            source: rule.source,
            message,
        });
    }

    fn raw(&mut self, path: String, rule: &'static str, source: &'static str, message: &str) {
        self.violations.push(Violation {
            profile: self.profile,
            path,
            rule,
            source,
            message: message.to_owned(),
        });
    }
}

/// The entries of a bundle, indexed for resolving references.
pub(super) struct Ctx<'v> {
    entries: &'v [Value],
    by_full_url: HashMap<&'v str, usize>,
    by_local: HashMap<String, usize>,
}

impl<'v> Ctx<'v> {
    fn new(entries: &'v [Value]) -> Self {
        let mut by_full_url = HashMap::with_capacity(entries.len());
        let mut by_local = HashMap::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            if let Some(url) = entry.get("fullUrl").and_then(Value::as_str) {
                by_full_url.entry(url).or_insert(i);
            }
            let resource = &entry["resource"];
            if let (Some(kind), Some(id)) = (
                resource.get("resourceType").and_then(Value::as_str),
                resource.get("id").and_then(Value::as_str),
            ) {
                by_local.entry(format!("{kind}/{id}")).or_insert(i);
            }
        }
        Self {
            entries,
            by_full_url,
            by_local,
        }
    }

    /// The resource a reference points to, if it is in the bundle.
    fn resolve(&self, reference: &str) -> Option<&'v Value> {
        self.by_full_url
            .get(reference)
            .or_else(|| self.by_local.get(reference))
            .and_then(|i| self.entries.get(*i))
            .map(|entry| &entry["resource"])
    }

    /// The profiles a resource declares, without `|version`.
    fn profiles(resource: &Value) -> Vec<&str> {
        resource["meta"]["profile"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|p| p.split('|').next().unwrap_or(p))
            .collect()
    }
}

/// Checks a PAS request (`$submit`) or inquiry (`$inquire`) Bundle against the PAS 2.2.1
/// profiles and usage rules. Empty when it conforms.
pub fn check(bundle: &Value) -> Vec<Violation> {
    let mut violations = Vec::new();
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        violations.push(Violation {
            profile: "PASRequestBundle",
            path: "Bundle".to_owned(),
            rule: "resource-type",
            source: "ClaimOperation.fsh:1",
            message: "the operation's resource parameter must be a Bundle".to_owned(),
        });
        return violations;
    }
    let entries = bundle["entry"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let ctx = Ctx::new(entries);
    let inquiry = usage::is_inquiry(bundle, entries);
    let (profile, rules) = if inquiry {
        ("PASInquiryRequestBundle", table::INQUIRY_BUNDLE_RULES)
    } else {
        ("PASRequestBundle", table::REQUEST_BUNDLE_RULES)
    };
    let mut out = Out {
        profile,
        violations: &mut violations,
    };
    for rule in rules {
        eval::apply(rule, bundle, "Bundle", &ctx, &mut out);
    }
    usage::bundle(entries, inquiry, &mut out);
    for (i, entry) in entries.iter().enumerate() {
        let resource = &entry["resource"];
        let base = format!("Bundle.entry[{i}].resource");
        let mut applied = false;
        for url in Ctx::profiles(resource) {
            if let Some(p) = table::profile_of(url) {
                applied = true;
                check_resource(p, resource, &base, &ctx, out.violations);
            }
        }
        if !applied && resource["resourceType"] == "Claim" {
            // spec-12: usage::bundle reported the missing profile; hold the Claim to the one
            // the operation expects all the same.
            let url = if inquiry {
                table::CLAIM_INQUIRY
            } else {
                table::CLAIM
            };
            if let Some(p) = table::profile_of(url) {
                check_resource(p, resource, &base, &ctx, out.violations);
            }
        }
        // Identifiers and references are reported under the entry's own profile.
        let own = Ctx::profiles(resource)
            .into_iter()
            .find_map(table::profile_of)
            .map_or(profile, |p| p.name);
        let mut entry_out = Out {
            profile: own,
            violations: out.violations,
        };
        usage::identifiers(resource, &base, &mut entry_out);
        usage::references(resource, &base, &ctx, &mut entry_out);
    }
    violations
}

fn check_resource(
    profile: &'static table::Profile,
    resource: &Value,
    base: &str,
    ctx: &Ctx<'_>,
    violations: &mut Vec<Violation>,
) {
    let mut out = Out {
        profile: profile.name,
        violations,
    };
    if resource["resourceType"] != profile.resource_type {
        out.raw(
            base.to_owned(),
            "resource-type",
            profile.url,
            "meta.profile names a profile of another resource type",
        );
        return;
    }
    for rules in profile.rules {
        for rule in *rules {
            eval::apply(rule, resource, base, ctx, &mut out);
        }
    }
    usage::extra(profile.extra, resource, base, ctx, &mut out);
}

/// Checks a Subscription against ClaimOperation.fsh PASSubscription and spec-57/58/62.
pub fn check_subscription(subscription: &Value) -> Vec<Violation> {
    let mut violations = Vec::new();
    let ctx = Ctx::new(&[]);
    let mut out = Out {
        profile: "PASSubscription",
        violations: &mut violations,
    };
    if subscription["resourceType"] != "Subscription" {
        out.raw(
            "Subscription".to_owned(),
            "resource-type",
            "ClaimOperation.fsh:67",
            "a PAS Subscription must be a Subscription resource",
        );
        return violations;
    }
    for rule in table::SUBSCRIPTION_RULES {
        eval::apply(rule, subscription, "Subscription", &ctx, &mut out);
    }
    usage::subscription(subscription, &mut out);
    violations
}

/// The OperationOutcome a validating payer answers a non-conforming bundle with: one issue per
/// violation (`structure` or `invariant`, expression = path, diagnostics = profile, rule and
/// source, details = the message).
pub fn operation_outcome(violations: &[Violation]) -> Value {
    let issues: Vec<Value> = violations
        .iter()
        .map(|v| {
            json!({
                "severity": "error",
                "code": v.issue_code(),
                "details": { "text": v.message },
                "diagnostics": format!("{} {} ({})", v.profile, v.rule, v.source),
                "expression": [v.path],
            })
        })
        .collect();
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

/// Panics, listing every violation, unless the bundle conforms. For tests.
#[doc(hidden)]
pub fn assert_conformant(bundle: &Value) {
    let violations = check(bundle);
    assert!(
        violations.is_empty(),
        "the bundle departs from the PAS profiles:\n{}",
        violations
            .iter()
            .map(|v| format!(
                "  {} {} [{} {}]: {}",
                v.profile, v.path, v.rule, v.source, v.message
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The profile names the check knows, for documentation and the report.
pub fn profile_names() -> impl Iterator<Item = &'static str> {
    PROFILES.iter().map(|p| p.name)
}
