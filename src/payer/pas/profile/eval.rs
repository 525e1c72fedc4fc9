//! Evaluating the table: selecting the elements at a path, and checking one constraint on them.

use serde_json::Value;

use super::table::{Check, Rule, PAS_EXTENSION_BASE, X12_673};
use super::{Ctx, Out};

/// The nodes at `path` under `root` (whose own path is `base`), with their paths. Arrays are
/// entered element by element; JSON null counts as absent.
pub(super) fn select<'v>(root: &'v Value, base: &str, path: &str) -> Vec<(&'v Value, String)> {
    let mut nodes = vec![(root, base.to_owned())];
    if path.is_empty() {
        return nodes;
    }
    for segment in path.split('.') {
        let mut next = Vec::new();
        for (node, at) in &nodes {
            children(node, at, segment, &mut next);
        }
        nodes = next;
        if nodes.is_empty() {
            break;
        }
    }
    nodes
}

/// The children of one node for one path segment (`name`, `name[x]` or `ext:id`).
pub(super) fn children<'v>(
    node: &'v Value,
    at: &str,
    segment: &str,
    out: &mut Vec<(&'v Value, String)>,
) {
    let Some(object) = node.as_object() else {
        return;
    };
    if let Some(id) = segment.strip_prefix("ext:") {
        let extensions = object.get("extension").and_then(Value::as_array);
        for (i, e) in extensions.into_iter().flatten().enumerate() {
            if extension_id(e) == Some(id) {
                out.push((e, format!("{at}.extension[{i}]")));
            }
        }
        return;
    }
    if let Some(prefix) = segment.strip_suffix("[x]") {
        for (key, value) in object {
            let choice = key
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()));
            if choice {
                flatten(value, &format!("{at}.{key}"), out);
            }
        }
        return;
    }
    if let Some(value) = object.get(segment) {
        flatten(value, &format!("{at}.{segment}"), out);
    }
}

fn flatten<'v>(value: &'v Value, at: &str, out: &mut Vec<(&'v Value, String)>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                out.push((item, format!("{at}[{i}]")));
            }
        }
        Value::Null => {}
        _ => out.push((value, at.to_owned())),
    }
}

/// The PAS extension id (`certificationType`) of an extension, from its url.
pub(super) fn extension_id(extension: &Value) -> Option<&str> {
    extension
        .get("url")
        .and_then(Value::as_str)
        .and_then(|u| u.strip_prefix(PAS_EXTENSION_BASE))
}

/// The codings of a CodeableConcept, or the Coding itself.
pub(super) fn codings(node: &Value) -> Vec<&Value> {
    match node.get("coding").and_then(Value::as_array) {
        Some(codings) => codings.iter().collect(),
        None if node.get("system").is_some() || node.get("code").is_some() => vec![node],
        None => Vec::new(),
    }
}

pub(super) fn str_at<'v>(node: &'v Value, key: &str) -> Option<&'v str> {
    node.get(key).and_then(Value::as_str)
}

/// Whether a CodeableConcept (or Coding) carries `system#code`.
pub(super) fn has_coding(node: &Value, system: &str, code: &str) -> bool {
    codings(node)
        .iter()
        .any(|c| str_at(c, "system") == Some(system) && str_at(c, "code") == Some(code))
}

/// FullDateRule: exactly `YYYY-MM-DD`.
pub(super) fn full_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn count(node: &Value, at: &str, segment: &str) -> usize {
    let mut found = Vec::new();
    children(node, at, segment, &mut found);
    found.len()
}

fn bound(max: u32) -> String {
    if max == u32::MAX {
        "*".to_owned()
    } else {
        max.to_string()
    }
}

/// Checks one table constraint on a resource.
pub(super) fn apply(rule: &Rule, root: &Value, base: &str, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    if let Check::Card(min, max) = rule.check {
        let (parent, last) = match rule.path.rsplit_once('.') {
            Some((parent, last)) => (parent, last),
            None => ("", rule.path),
        };
        for (node, at) in select(root, base, parent) {
            let n = count(node, &at, last);
            if (n as u64) < u64::from(min) || (n as u64) > u64::from(max) {
                out.push(
                    format!("{at}.{last}"),
                    rule,
                    format!(
                        "{} occurs {n} time(s); the profile allows {min}..{}",
                        rule.path,
                        bound(max)
                    ),
                );
            }
        }
        return;
    }
    for (node, at) in select(root, base, rule.path) {
        check_node(rule, node, at, ctx, out);
    }
}

fn check_node(rule: &Rule, node: &Value, at: String, ctx: &Ctx<'_>, out: &mut Out<'_>) {
    match rule.check {
        Check::Card(..) => {}
        Check::Fixed(value) => {
            if node.as_str() != Some(value) {
                out.push(at, rule, format!("{} must be {value}", rule.path));
            }
        }
        Check::FixedBool(value) => {
            if node.as_bool() != Some(value) {
                out.push(at, rule, format!("{} must be {value}", rule.path));
            }
        }
        Check::Pattern(system, code) => {
            if !has_coding(node, system, code) {
                out.push(
                    at,
                    rule,
                    format!("{} must carry {system}#{code}", rule.path),
                );
            }
        }
        Check::Binding(value_set, systems, codes) => {
            let in_set = codings(node).iter().any(|c| {
                str_at(c, "system").is_some_and(|s| systems.contains(&s))
                    && (codes.is_empty() || str_at(c, "code").is_some_and(|k| codes.contains(&k)))
            });
            if !in_set {
                out.push(
                    at,
                    rule,
                    format!(
                        "{} has no coding from the required value set {value_set}",
                        rule.path
                    ),
                );
            }
        }
        Check::Only(targets) => {
            let Some(reference) = str_at(node, "reference") else {
                return;
            };
            let Some(target) = ctx.resolve(reference) else {
                return;
            };
            let declared = Ctx::profiles(target);
            if !declared.iter().any(|p| targets.contains(p)) {
                let names: Vec<&str> = targets
                    .iter()
                    .map(|t| t.rsplit('/').next().unwrap_or(t))
                    .collect();
                out.push(
                    at,
                    rule,
                    format!(
                        "{} must reference a resource with meta.profile {}",
                        rule.path,
                        names.join(" or ")
                    ),
                );
            }
        }
        Check::FullDate => {
            if !node.as_str().is_some_and(full_date) {
                out.push(
                    at,
                    rule,
                    format!("{} must be a full date YYYY-MM-DD", rule.path),
                );
            }
        }
        Check::Quantity => quantity(node, at, out),
        Check::Identifier => identifier(node, at, out),
    }
}

/// Quantity.fsh PASQuantity: value 1..1, prof-2 (unit or code), code from X12 673.
fn quantity(node: &Value, at: String, out: &mut Out<'_>) {
    if !node.get("value").is_some_and(Value::is_number) {
        out.raw(
            format!("{at}.value"),
            "cardinality",
            "Quantity.fsh:6",
            "PASQuantity value is required",
        );
    }
    if node.get("unit").is_none() && node.get("code").is_none() {
        out.raw(
            at.clone(),
            "prof-2",
            "Quantity.fsh:1",
            "PASQuantity needs a value and a unit or a code",
        );
    }
    if node.get("code").is_some() && str_at(node, "system") != Some(X12_673) {
        out.raw(
            format!("{at}.code"),
            "required-binding",
            "Quantity.fsh:9",
            "PASQuantity code must come from X12 673 (system https://codesystem.x12.org/005010/673)",
        );
    }
    if node.get("comparator").is_some() {
        out.raw(
            format!("{at}.comparator"),
            "cardinality",
            "Quantity.fsh:2",
            "PASQuantity is a SimpleQuantity: no comparator",
        );
    }
}

/// Identifier.fsh PASIdentifier: system and value 1..1.
fn identifier(node: &Value, at: String, out: &mut Out<'_>) {
    if str_at(node, "system").is_none() {
        out.raw(
            format!("{at}.system"),
            "cardinality",
            "Identifier.fsh:7",
            "PASIdentifier system is required",
        );
    }
    if str_at(node, "value").is_none() {
        out.raw(
            format!("{at}.value"),
            "cardinality",
            "Identifier.fsh:8",
            "PASIdentifier value is required",
        );
    }
}
