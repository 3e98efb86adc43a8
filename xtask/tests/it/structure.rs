//! The shape of the code, checked on every `cargo xtask test`: no module of a crate reaches
//! itself again through the modules it uses (imports run one way), no source file or function
//! grows past what a reader takes in at once unless a comment says why it must be one piece, and
//! every module says in its first line what it is for.
//!
//! It reads the sources as text (module paths from file paths, `crate::`, `super::`, `self::`
//! and child-module paths from the code), so it needs no compiler and runs in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A file over this many lines (before its `#[cfg(test)]` module) is too large to read as one.
const MAX_FILE_LINES: usize = 400;
/// A function over this many lines is too long to hold in one's head.
const MAX_FUNCTION_LINES: usize = 80;
/// What a comment above a function (or in a file's `//!` header) says to keep it whole, followed
/// by the reason.
const EXEMPTION: &str = "Kept as one piece:";

#[test]
fn no_module_uses_itself_around_a_loop_of_imports() {
    let mut loops = Vec::new();
    for krate in crates() {
        let graph = import_graph(&krate);
        for component in cycles(&graph) {
            let edges: Vec<String> = component
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|to| component.contains(*to))
                        .map(move |to| format!("{from} -> {to}"))
                })
                .collect();
            loops.push(format!("{}: {}", krate.name, edges.join(", ")));
        }
    }
    assert!(
        loops.is_empty(),
        "modules import each other in a loop (imports must run one way):\n{}",
        loops.join("\n")
    );
}

#[test]
fn files_and_functions_stay_small_or_say_why_not() {
    let mut too_large = Vec::new();
    for krate in crates() {
        for file in &krate.files {
            too_large.extend(oversized(&file.path, &file.lines));
        }
    }
    assert!(
        too_large.is_empty(),
        "split these, or say why one must stay whole with a `{EXEMPTION}` comment:\n{}",
        too_large.join("\n")
    );
}

#[test]
fn every_module_opens_with_a_line_saying_what_it_is_for() {
    let silent: Vec<String> = crates()
        .iter()
        .flat_map(|krate| &krate.files)
        .filter(|file| {
            !file
                .lines
                .iter()
                .find(|line| !line.trim().is_empty())
                .is_some_and(|first| first.starts_with("//!"))
        })
        .map(|file| file.path.clone())
        .collect();
    assert!(
        silent.is_empty(),
        "open these with a `//!` line saying what the module is for:\n{}",
        silent.join("\n")
    );
}

#[test]
fn the_checks_see_a_loop_and_a_long_function() {
    let krate = Crate {
        name: "example".into(),
        files: vec![
            source("src/lib.rs", "mod a;\nmod b;\n"),
            source("src/a.rs", "use crate::b::Thing;\n"),
            source("src/b.rs", "pub fn f() { super::a::g() }\n"),
        ],
    };
    let graph = import_graph(&krate);
    assert_eq!(
        cycles(&graph),
        vec![BTreeSet::from(["a".to_string(), "b".to_string()])]
    );

    let long = format!(
        "fn long() {{\n{}}}\n",
        "    step();\n".repeat(MAX_FUNCTION_LINES)
    );
    let file = source("src/long.rs", &long);
    assert_eq!(oversized(&file.path, &file.lines).len(), 1);
    let kept = format!("// {EXEMPTION} the steps run in this order.\n{long}");
    let file = source("src/kept.rs", &kept);
    assert!(oversized(&file.path, &file.lines).is_empty());
}

struct Crate {
    name: String,
    files: Vec<Source>,
}

struct Source {
    /// Relative to the workspace root, for messages.
    path: String,
    /// `crate`, `routes`, `routes::events`, … (the module the file is).
    module: String,
    /// The lines before the file's test module.
    lines: Vec<String>,
}

fn source(path: &str, text: &str) -> Source {
    Source {
        path: path.into(),
        module: module_of(Path::new(path.trim_start_matches("src/"))),
        lines: code_lines(text),
    }
}

/// Every workspace member with a `src/` folder, read once.
fn crates() -> Vec<Crate> {
    let root = crate::helpers::root();
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("workspace Cargo.toml");
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("a members list in the workspace Cargo.toml");
    members
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .map(|member| {
            let src = root.join(member).join("src");
            let mut files = Vec::new();
            for path in rust_files(&src) {
                let text = fs::read_to_string(&path).expect("a readable source file");
                let relative = path.strip_prefix(&src).expect("under src");
                files.push(Source {
                    path: path
                        .strip_prefix(&root)
                        .expect("under the root")
                        .display()
                        .to_string(),
                    module: module_of(relative),
                    lines: code_lines(&text),
                });
            }
            Crate {
                name: member.to_string(),
                files,
            }
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// `lib.rs`/`main.rs` → `crate`; `a.rs` and `a/mod.rs` → `a`; `a/b.rs` → `a::b`.
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") || parts.is_empty() {
        return "crate".into();
    }
    if parts.first().is_some_and(|first| first == "bin") {
        parts.remove(0);
    }
    parts.join("::")
}

/// The file's lines up to its `#[cfg(test)]` module: tests may reach anywhere.
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .map(str::to_string)
        .collect()
}

/// Module → the modules of the same crate whose items it names. The crate root is left out: it
/// declares the crate's `Config` and `run`, which any module may name, and assembles every module,
/// so it is the frame of the rooms rather than one of them.
fn import_graph(krate: &Crate) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<&str> = krate
        .files
        .iter()
        .map(|file| file.module.as_str())
        .collect();
    let mut graph = BTreeMap::new();
    for file in &krate.files {
        let mut targets = BTreeSet::new();
        let text = without_comments_and_strings(&file.lines);
        for path in paths_in(&text) {
            if let Some(target) = resolve(&file.module, &path, &modules)
                && target != file.module
                && target != "crate"
                && file.module != "crate"
            {
                targets.insert(target);
            }
        }
        graph.insert(file.module.clone(), targets);
    }
    graph
}

/// The code with comments and string literals blanked, so a path in prose is no import.
fn without_comments_and_strings(lines: &[String]) -> String {
    let mut code = String::new();
    for line in lines {
        let mut in_string = false;
        let mut previous = ' ';
        let mut chars = line.chars().peekable();
        while let Some(character) = chars.next() {
            if in_string {
                if character == '"' && previous != '\\' {
                    in_string = false;
                }
                previous = if previous == '\\' { ' ' } else { character };
                continue;
            }
            if character == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if character == '"' {
                in_string = true;
                previous = ' ';
                continue;
            }
            code.push(character);
        }
        code.push('\n');
    }
    code
}

/// Every path the code writes, with `use` groups (`a::{b, c::d}`) spread into whole paths.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for statement in code.split(';') {
        let statement = statement.trim_start();
        let statement = statement
            .strip_prefix("pub(crate) ")
            .or_else(|| statement.strip_prefix("pub "))
            .unwrap_or(statement);
        if let Some(tree) = statement.strip_prefix("use ") {
            let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
            spread(&tree, &mut Vec::new(), &mut paths);
        }
    }
    let mut current = Vec::new();
    let mut word = String::new();
    let mut chars = code.chars().peekable();
    let mut after_separator = false;
    while let Some(character) = chars.next() {
        if character.is_alphanumeric() || character == '_' {
            word.push(character);
            continue;
        }
        if character == ':' && chars.peek() == Some(&':') {
            chars.next();
            current.push(std::mem::take(&mut word));
            after_separator = true;
            continue;
        }
        if after_separator || !current.is_empty() {
            current.push(std::mem::take(&mut word));
            paths.push(std::mem::take(&mut current));
        }
        after_separator = false;
        word.clear();
    }
    paths
}

/// Spreads one `use` tree into paths.
fn spread(tree: &str, prefix: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
    let (head, group) = match tree.find('{') {
        Some(open) => (&tree[..open], Some(&tree[open + 1..tree.len() - 1])),
        None => (tree, None),
    };
    let depth = prefix.len();
    prefix.extend(
        head.split("::")
            .filter(|part| !part.is_empty())
            .map(str::to_string),
    );
    match group {
        None => paths.push(prefix.clone()),
        Some(group) => {
            for branch in split_top_level(group) {
                if branch == "self" {
                    paths.push(prefix.clone());
                } else {
                    spread(branch, prefix, paths);
                }
            }
        }
    }
    prefix.truncate(depth);
}

/// `a, b::{c, d}, e` → `a`, `b::{c, d}`, `e`.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, character) in group.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[start..]);
    parts.into_iter().filter(|part| !part.is_empty()).collect()
}

/// The module of this crate that a path written in `module` names, if any: `crate::a::b::f` is
/// `a::b` when that module exists; `super::` and `self::` are relative; a bare first segment is a
/// child module of `module`.
fn resolve(module: &str, path: &[String], modules: &BTreeSet<&str>) -> Option<String> {
    let mut base: Vec<&str> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().is_some_and(|part| part == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some("self") => rest = &rest[1..],
        _ => {}
    }
    let mut found = None;
    let mut candidate = base.clone();
    for part in rest {
        candidate.push(part);
        let name = candidate.join("::");
        if modules.contains(name.as_str()) {
            found = Some(name);
        } else {
            break;
        }
    }
    if found.is_none() && path.first().is_some_and(|first| first == "super") {
        // `super::item`: the item lives in the parent module itself.
        found = Some(if base.is_empty() {
            "crate".into()
        } else {
            base.join("::")
        });
    }
    found
}

/// The groups of modules that reach themselves again (strongly connected, more than one module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let mut groups = Vec::new();
    let mut assigned = BTreeSet::new();
    for start in graph.keys() {
        if assigned.contains(start) {
            continue;
        }
        let forward = reachable(graph, start, false);
        let backward = reachable(graph, start, true);
        let group: BTreeSet<String> = forward.intersection(&backward).cloned().collect();
        assigned.extend(group.iter().cloned());
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

fn reachable(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    reversed: bool,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([start.to_string()]);
    let mut queue = vec![start.to_string()];
    while let Some(node) = queue.pop() {
        let next: Vec<&String> = if reversed {
            graph
                .iter()
                .filter(|(_, targets)| targets.contains(&node))
                .map(|(from, _)| from)
                .collect()
        } else {
            graph.get(&node).into_iter().flatten().collect()
        };
        for neighbour in next {
            if seen.insert(neighbour.clone()) {
                queue.push(neighbour.clone());
            }
        }
    }
    seen
}

/// The file itself when it is too long, and each function in it that is, without an exemption.
fn oversized(path: &str, lines: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let header_exempts = lines
        .iter()
        .take_while(|line| line.starts_with("//!") || line.trim().is_empty())
        .any(|line| line.contains(EXEMPTION));
    if lines.len() > MAX_FILE_LINES && !header_exempts {
        found.push(format!("{path}: {} lines", lines.len()));
    }
    for (start, line) in lines.iter().enumerate() {
        let Some((indent, name)) = function_start(line) else {
            continue;
        };
        let closing = format!("{indent}}}");
        let Some(length) = lines[start..].iter().position(|line| *line == closing) else {
            continue;
        };
        if length + 1 > MAX_FUNCTION_LINES && !exempted(&lines[..start]) {
            found.push(format!(
                "{path}:{}: fn {name}, {} lines",
                start + 1,
                length + 1
            ));
        }
    }
    found
}

/// `    pub(crate) async fn name(` → (`    `, `name`), for a function with a body.
fn function_start(line: &str) -> Option<(&str, &str)> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let mut words = line.trim_start();
    if words.ends_with(';') {
        return None;
    }
    for qualifier in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        words = words.strip_prefix(qualifier).unwrap_or(words);
    }
    let name = words.strip_prefix("fn ")?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some((indent, &name[..end]))
}

/// Whether the comments and attributes right above a function say why it stays whole.
fn exempted(above: &[String]) -> bool {
    above
        .iter()
        .rev()
        .map(|line| line.trim())
        .take_while(|line| line.starts_with("//") || line.starts_with("#["))
        .any(|line| line.contains(EXEMPTION))
}
