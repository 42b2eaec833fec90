//! The crate's layers, enforced by reading its source: each file under src/ may name
//! (`crate::…`, or `cluster_bench::…` in main.rs) only modules of its own layer or the layers
//! below; the commands never name each other; and no two units name each other, however
//! indirectly. The table below is the one statement of the layers (lib.rs and
//! docs/architecture.md describe it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first, and the top-level modules of src/ in each: a module may import from
/// its own layer and from those below it, never from one above.
const LAYERS: [(&str, &[&str]); 5] = [
    ("main", &["main"]),
    ("cli", &["cli"]),
    ("commands", &["bench", "net"]),
    (
        "core",
        &[
            "options", "schedule", "runner", "workload", "kernel", "record",
        ],
    ),
    ("util", &["util"]),
];

/// Layers whose modules are side by side and must not import each other.
const APART: [&str; 1] = ["commands"];

/// Top-level modules that are folders of separate jobs: each file in them is a unit of its own
/// for the cycle check (elsewhere the whole top-level module is one unit).
const FOLDERS: [&str; 3] = ["bench", "net", "util"];

/// One named module path in one file.
#[derive(Debug)]
struct Import {
    file: String,
    line: usize,
    path: Vec<String>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/bench/report.rs` → `["bench", "report"]`; `src/bench/mod.rs` → `["bench"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src())
        .expect("under src/")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn ident_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// The module paths after each `prefix` in `code`: `crate::a::b::C` gives `[a, b, C]`, and
/// `crate::a::{b, c::D}` gives `[a, b]` and `[a, c, D]`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `my_crate::`, not ours
        }
        read_path(&code[at + prefix.len()..], Vec::new(), &mut found);
    }
    found
}

fn read_path(mut rest: &str, mut path: Vec<String>, found: &mut Vec<Vec<String>>) {
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                read_path(item.trim(), path.clone(), found);
            }
            return;
        }
        let n = ident_len(rest);
        if n == 0 {
            break;
        }
        path.push(rest[..n].to_string());
        match rest[n..].strip_prefix("::") {
            Some(more) => rest = more,
            None => break,
        }
    }
    if !path.is_empty() && path[0] != "self" {
        found.push(path);
    }
}

/// Every path a file names, comment lines aside.
fn imports(file: &Path) -> Vec<Import> {
    let text = std::fs::read_to_string(file).expect("readable");
    let name = file.strip_prefix(src()).unwrap().display().to_string();
    let prefix = if name == "main.rs" {
        "cluster_bench::"
    } else {
        "crate::"
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for path in paths_after(line, prefix) {
            out.push(Import {
                file: name.clone(),
                line: i + 1,
                path,
            });
        }
    }
    out
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// The unit a module path belongs to: `bench::report` for a file of a folder, else `schedule`.
fn unit(path: &[String]) -> String {
    let top = &path[0];
    if FOLDERS.contains(&top.as_str()) && path.len() > 1 {
        let dir = src().join(top);
        let sub = &path[1];
        if dir.join(format!("{sub}.rs")).exists() || dir.join(sub).join("mod.rs").exists() {
            return format!("{top}::{sub}");
        }
    }
    top.clone()
}

/// The broken rules of one import, as sentences.
fn check(from: &[String], imp: &Import) -> Option<String> {
    let (top_from, top_to) = (&from[0], &imp.path[0]);
    let Some(to) = layer_of(top_to) else {
        return Some(format!("names {top_to}, which is in no layer"));
    };
    let here = layer_of(top_from)?;
    let (name_from, name_to) = (LAYERS[here].0, LAYERS[to].0);
    if to < here {
        return Some(format!(
            "imports {} ({name_to}) from {top_from} ({name_from}): an upward import",
            imp.path.join("::")
        ));
    }
    if to == here && top_from != top_to && APART.contains(&name_from) {
        return Some(format!(
            "imports {} from {top_from}: the {name_from} never import each other",
            imp.path.join("::")
        ));
    }
    None
}

/// A cycle of units, if the graph has one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, edges, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn every_module_of_src_is_in_one_layer() {
    let mut tops = BTreeSet::new();
    for entry in std::fs::read_dir(src()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let name = name.strip_suffix(".rs").unwrap_or(&name).to_string();
        if name != "lib" {
            tops.insert(name);
        }
    }
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|(_, m)| m.iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(tops, listed, "src/ vs the layer table");
}

#[test]
fn no_file_imports_upward_across_commands_or_in_a_cycle() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut broken = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut count = 0;
    for file in files.iter().filter(|f| !f.ends_with("lib.rs")) {
        let from = module_of(file);
        let text = std::fs::read_to_string(file).unwrap();
        if text.contains("super::super") {
            broken.push(format!(
                "{}: super::super (name it from crate::)",
                from.join("/")
            ));
        }
        for imp in imports(file) {
            count += 1;
            if let Some(why) = check(&from, &imp) {
                broken.push(format!("src/{}:{}: {why}", imp.file, imp.line));
            }
            let (a, b) = (unit(&from), unit(&imp.path));
            if a != b {
                edges.entry(a).or_default().insert(b);
            }
        }
    }
    assert!(
        count > 100,
        "only {count} imports found: is the parser reading src/?"
    );
    if let Some(c) = cycle(&edges) {
        broken.push(format!("a cycle of imports: {}", c.join(" → ")));
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}

#[test]
fn paths_are_read_whole_and_in_groups() {
    let got = paths_after(
        "use crate::util::{exit, fs::write_new}; let x = crate::record::host(); my_crate::no",
        "crate::",
    );
    let want: Vec<Vec<&str>> = vec![
        vec!["util", "exit"],
        vec!["util", "fs", "write_new"],
        vec!["record", "host"],
    ];
    assert_eq!(got, want);
    assert_eq!(
        unit(&["util".into(), "host".into(), "facts".into()]),
        "util::host"
    );
    assert_eq!(unit(&["bench".into(), "run".into()]), "bench");
    assert_eq!(unit(&["schedule".into(), "watch".into()]), "schedule");
    let up = Import {
        file: "util/clock.rs".into(),
        line: 1,
        path: vec!["options".into(), "Options".into()],
    };
    assert!(check(&["util".into(), "clock".into()], &up).is_some());
    let across = Import {
        file: "net/mod.rs".into(),
        line: 1,
        path: vec!["bench".into(), "run".into()],
    };
    assert!(check(&["net".into()], &across).is_some());
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("a", "c")] {
        edges.entry(a.into()).or_default().insert(b.into());
    }
    assert_eq!(cycle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&edges).map(|c| c.len()), Some(4), "a → b → c → a");
}
