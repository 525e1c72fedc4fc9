//! The house plan of docs/ARCHITECTURE.md, held to the code: every top-level module of src/
//! is in the plan's table with a layer, a module imports only modules of lower layers, and no
//! two source files import each other. Test code (`#[cfg(test)] mod tests`, `tests.rs` files)
//! is left out: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Module path (`["payer", "pas", "read"]`) of each production source file.
fn source_files() -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src is readable")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let src = root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("below src");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned())
            .collect();
        if parts.last().is_some_and(|l| l == "mod") {
            parts.pop();
        }
        let name = parts.last().cloned().unwrap_or_default();
        if name == "tests" || parts.iter().any(|p| p == "tests") || name == "main" {
            continue;
        }
        if parts == ["lib"] {
            continue;
        }
        out.insert(parts, f);
    }
    out
}

/// The production text of a file: without its `#[cfg(test)] mod tests { … }` block and without
/// comment lines.
fn production_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("readable");
    let cut = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
    text[..cut]
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .map(str::to_owned)
        .collect()
}

/// Every path a line names through `crate::` or `super::`, resolved to an absolute module path.
fn named_paths(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (start, _) in line
        .match_indices("crate::")
        .chain(line.match_indices("super::"))
    {
        if start > 0 && line[..start].ends_with(ident) {
            continue;
        }
        let rest = &line[start..];
        let mut segments: Vec<&str> = Vec::new();
        for seg in rest.split("::") {
            let name: String = seg.chars().take_while(|c| ident(*c)).collect();
            if name.is_empty() {
                break;
            }
            let whole = name.len() == seg.len();
            segments.push(&seg[..name.len()]);
            if !whole {
                break;
            }
        }
        let mut base: Vec<String> = module.to_vec();
        let mut path = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            match *seg {
                "crate" if i == 0 => base.clear(),
                "super" => {
                    base.pop();
                }
                s => path.push(s.to_owned()),
            }
        }
        base.extend(path);
        out.push(base);
    }
    out
}

/// The plan's table: `| module | layer | … |` rows under "## Modules".
fn plan() -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md"))
        .expect("docs/ARCHITECTURE.md exists");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let module = cells[1].trim_matches('`');
        if let Ok(layer) = cells[2].parse::<u32>() {
            out.insert(module.to_owned(), layer);
        }
    }
    out
}

#[test]
fn every_module_is_in_the_plan_and_imports_only_modules_below_it() {
    let plan = plan();
    let files = source_files();
    let mut problems = Vec::new();
    let tops: BTreeSet<String> = files.keys().filter_map(|m| m.first().cloned()).collect();
    for top in &tops {
        if !plan.contains_key(top) {
            problems.push(format!(
                "src/{top}: not in docs/ARCHITECTURE.md's module table"
            ));
        }
    }
    for m in plan.keys() {
        if !tops.contains(m) && m != "main" {
            problems.push(format!(
                "docs/ARCHITECTURE.md names `{m}`, which src/ does not have"
            ));
        }
    }
    for (module, path) in &files {
        let top = &module[0];
        let Some(&layer) = plan.get(top) else {
            continue;
        };
        for line in production_lines(path) {
            for named in named_paths(&line, module) {
                let Some(other) = named.first() else { continue };
                if other == top {
                    continue;
                }
                match plan.get(other) {
                    Some(&l) if l < layer => {}
                    Some(&l) => problems.push(format!(
                        "{}: `{top}` (layer {layer}) imports `{other}` (layer {l})",
                        path.display()
                    )),
                    None => {}
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_two_source_files_import_each_other() {
    let files = source_files();
    let file_of = |named: &[String]| -> Option<Vec<String>> {
        (1..=named.len())
            .rev()
            .map(|n| named[..n].to_vec())
            .find(|prefix| files.contains_key(prefix))
    };
    let mut edges: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    for (module, path) in &files {
        for line in production_lines(path) {
            for named in named_paths(&line, module) {
                if let Some(target) = file_of(&named) {
                    // A module's own children and its parent's re-exports are its own business.
                    let related = target.starts_with(module) || module.starts_with(&target);
                    if target != *module && !related {
                        edges.insert((module.clone(), target));
                    }
                }
            }
        }
    }
    let mutual: Vec<String> = edges
        .iter()
        .filter(|(a, b)| a < b && edges.contains(&(b.clone(), a.clone())))
        .map(|(a, b)| format!("{} <-> {}", a.join("::"), b.join("::")))
        .collect();
    assert!(
        mutual.is_empty(),
        "files that import each other:\n{}",
        mutual.join("\n")
    );
}

#[test]
fn the_import_reader_resolves_crate_and_super_paths() {
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        named_paths("use crate::payer::pas::model::X;", &m("pipeline")),
        vec![m("payer::pas::model::X")]
    );
    assert_eq!(
        named_paths("use super::model::{A, B};", &m("payer::pas::read")),
        vec![m("payer::pas::model")]
    );
    assert_eq!(
        named_paths("use super::identify::Identified;", &m("case::decode")),
        vec![m("case::identify::Identified")]
    );
    assert!(named_paths("let supercrate::x = 1;", &m("a")).is_empty());
}
