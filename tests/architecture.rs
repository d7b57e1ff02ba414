//! Architecture rules, checked on the source text of `src/` (std only):
//!
//! 1. The top-level modules of the crate (`src/chat/` and `src/hub.rs` are the modules `chat`
//!    and `hub`) do not import each other in a cycle. `lib.rs` and `main.rs` are the root, which
//!    may import anything, and are left out.
//! 2. Within each directory module (`src/ws/`, `src/tasks/`, ...), the files do not import each
//!    other in a cycle. A directory inside it counts as one node (`tasks/kinds/`). The
//!    directory's own `mod.rs` is its root, as `lib.rs` is the crate's: it may import any of
//!    its files, and they may use its items (see `PARENT_MAY_IMPORT_ITS_FILES`).
//!
//! An import is any path that names another module: `use crate::x::...`, `crate::x::f()` in code,
//! `super::...` and `self::...` resolved against the file's module, and a path starting with the
//! name of a child module (`session::run` in `ws/mod.rs`). A path names the deepest module file it
//! reaches (`crate::chat::Actor` names `chat`, `crate::chat::writer::SendJob` names
//! `chat::writer`); a name the root imports or re-exports (`crate::Config`) names the module it
//! comes from. Comments, string literals and test code (`#[cfg(test)]` items, files under a
//! `tests` directory, modules declared `#[cfg(test)] mod x;`) are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path from the crate root: `[]` is the root, `["chat", "writer"]` is
/// `src/chat/writer.rs`.
type ModPath = Vec<String>;

// ---------------------------------------------------------------------------------------------
// Source text: comments and literals out, then tokens.

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with comments, string literals and char literals blanked out; lines are kept, so
/// line numbers still hold.
fn strip_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let n = c.len();
    let at = |i: usize| c.get(i).copied();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < n {
        let ch = c[i];
        if ch == '/' && at(i + 1) == Some('/') {
            while i < n && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if ch == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < n {
                if c[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
            out.push(' ');
            continue;
        }
        let starts_word = i == 0 || !is_ident_char(c[i - 1]);
        if starts_word && (ch == 'r' || (ch == 'b' && at(i + 1) == Some('r'))) {
            // Raw strings: r"...", r#"..."#, br"...".
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(j) == Some('#') {
                hashes += 1;
                j += 1;
            }
            if at(j) == Some('"') {
                j += 1;
                while j < n {
                    if c[j] == '"' && (1..=hashes).all(|k| at(j + k) == Some('#')) {
                        j += 1 + hashes;
                        break;
                    }
                    if c[j] == '\n' {
                        out.push('\n');
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if ch == '"' {
            let mut j = i + 1;
            while j < n && c[j] != '"' {
                if c[j] == '\\' {
                    j += 1;
                }
                if at(j) == Some('\n') {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}'); otherwise a lifetime, kept.
            if at(i + 1) == Some('\\') {
                let mut j = i + 3;
                while j < n && c[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
                continue;
            }
            if at(i + 2) == Some('\'') {
                out.push_str("' '");
                i += 3;
                continue;
            }
        }
        out.push(ch);
        i += 1;
    }
    out
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    line: usize,
}

/// Identifiers (and numbers), `::`, and single-character punctuation.
fn tokenize(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if is_ident_char(ch) {
            let start = i;
            while i < c.len() && is_ident_char(c[i]) {
                i += 1;
            }
            tokens.push(Token {
                text: c[start..i].iter().collect(),
                line,
            });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            tokens.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

// ---------------------------------------------------------------------------------------------
// Paths named in one file.

/// A module path named in a file, resolved against the file's module (still unresolved
/// against the module tree: `["chat", "Actor"]`).
#[derive(Debug, Clone)]
struct Named {
    line: usize,
    path: Vec<String>,
    /// The name it is known by when it is imported by a `use` (alias or last segment).
    use_name: Option<String>,
}

#[derive(Debug, Default)]
struct FileRefs {
    named: Vec<Named>,
    /// `#[cfg(test)] mod x;`: modules whose files are test code.
    test_modules: Vec<String>,
    /// `#![cfg(test)]`: the whole file is test code.
    test_only: bool,
}

fn text(tokens: &[Token], i: usize) -> &str {
    tokens.get(i).map_or("", |t| t.text.as_str())
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The index of the token closing the bracket opened at `open`.
fn closing(tokens: &[Token], open: usize) -> usize {
    let (o, c) = match text(tokens, open) {
        "[" => ("[", "]"),
        "(" => ("(", ")"),
        _ => ("{", "}"),
    };
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        if t.text == o {
            depth += 1;
        } else if t.text == c {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    tokens.len()
}

/// `cfg(test)`, `cfg(all(test, ...))`: code compiled only for tests.
fn is_cfg_test(attr: &[Token]) -> bool {
    attr.first().is_some_and(|t| t.text == "cfg")
        && attr.iter().any(|t| t.text == "test")
        && !attr.iter().any(|t| t.text == "not" || t.text == "any")
}

/// Skips the item starting at `i` (after its `#[cfg(test)]`); records `mod x;` declarations.
fn skip_item(tokens: &[Token], mut i: usize, refs: &mut FileRefs) -> usize {
    while text(tokens, i) == "#" {
        i = closing(tokens, i + 1) + 1;
    }
    let mut depth = 0i32;
    while i < tokens.len() {
        match text(tokens, i) {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            ";" if depth == 0 => {
                if i >= 2 && text(tokens, i - 2) == "mod" {
                    refs.test_modules.push(text(tokens, i - 1).to_string());
                }
                return i + 1;
            }
            "{" if depth == 0 => return closing(tokens, i) + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// Reads a path (or a `use` tree) from the segment at `i`, on top of `path`; pushes one
/// `Named` per leaf and returns the index after it.
fn read_tree(
    tokens: &[Token],
    mut i: usize,
    mut path: Vec<String>,
    in_use: bool,
    out: &mut Vec<Named>,
) -> usize {
    let mut line = tokens.get(i).map_or(0, |t| t.line);
    loop {
        match text(tokens, i) {
            "{" => {
                i += 1;
                while i < tokens.len() && text(tokens, i) != "}" {
                    if text(tokens, i) == "," {
                        i += 1;
                    } else {
                        i = read_tree(tokens, i, path.clone(), in_use, out);
                    }
                }
                return i + 1;
            }
            "*" => {
                out.push(Named {
                    line,
                    path,
                    use_name: None,
                });
                return i + 1;
            }
            seg if is_ident(seg) => {
                line = tokens[i].line;
                match seg {
                    "super" => {
                        path.pop();
                    }
                    "self" => {}
                    _ => path.push(seg.to_string()),
                }
                i += 1;
                if text(tokens, i) == "::" {
                    i += 1;
                    continue;
                }
                let mut use_name = path.last().cloned();
                if text(tokens, i) == "as" {
                    use_name = Some(text(tokens, i + 1).to_string());
                    i += 2;
                }
                out.push(Named {
                    line,
                    path,
                    use_name: use_name.filter(|_| in_use),
                });
                return i;
            }
            _ => {
                out.push(Named {
                    line,
                    path,
                    use_name: None,
                });
                return i;
            }
        }
    }
}

/// Every module path named in the code of one file whose module is `module`. `is_module`
/// tells whether a path is a module of the crate (to read `child::x` in a `mod.rs`).
fn scan_file(src: &str, module: &[String], is_module: &dyn Fn(&[String]) -> bool) -> FileRefs {
    let tokens = tokenize(&strip_comments_and_literals(src));
    let mut refs = FileRefs::default();
    // Inline modules (`mod x { ... }`) around the current token, with the brace depth they
    // opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut in_use = false;
    let mut i = 0;
    while i < tokens.len() {
        let t = text(&tokens, i);
        match t {
            "#" => {
                let inner = text(&tokens, i + 1) == "!";
                let open = i + 1 + usize::from(inner);
                if text(&tokens, open) == "[" {
                    let close = closing(&tokens, open);
                    if is_cfg_test(&tokens[open + 1..close.min(tokens.len())]) {
                        if !inner {
                            i = skip_item(&tokens, close + 1, &mut refs);
                            continue;
                        }
                        if inline.is_empty() {
                            refs.test_only = true;
                            return refs;
                        }
                    }
                    i = close + 1;
                    continue;
                }
            }
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|m| m.1 == depth) {
                    inline.pop();
                }
            }
            "mod" if is_ident(text(&tokens, i + 1)) && text(&tokens, i + 2) == "{" => {
                inline.push((text(&tokens, i + 1).to_string(), depth));
                depth += 1;
                i += 3;
                continue;
            }
            "use" => in_use = true,
            ";" => in_use = false,
            _ => {}
        }
        let starts_path = is_ident(t)
            && text(&tokens, i + 1) == "::"
            && (i == 0 || !matches!(text(&tokens, i - 1), "::" | "$" | "in" | "'"));
        if starts_path {
            let mut current: ModPath = module.to_vec();
            current.extend(inline.iter().map(|m| m.0.clone()));
            let base = match t {
                "crate" => Some(Vec::new()),
                "self" => Some(current),
                "super" => current.split_last().map(|(_, parent)| parent.to_vec()),
                name => {
                    let mut child = current;
                    child.push(name.to_string());
                    is_module(&child).then_some(child)
                }
            };
            if let Some(base) = base {
                i = read_tree(&tokens, i + 2, base, in_use, &mut refs.named);
                continue;
            }
        }
        i += 1;
    }
    refs
}

// ---------------------------------------------------------------------------------------------
// The module tree and the graphs.

/// The module of a file, from its path under `src/` (`/`-separated): `lib.rs` and `main.rs`
/// are the root, `x/mod.rs` and `x.rs` are `x`.
fn module_of(rel: &str) -> Option<ModPath> {
    let stem = rel.strip_suffix(".rs")?;
    let mut parts: Vec<String> = stem.split('/').map(String::from).collect();
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        return Some(Vec::new());
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}

/// One edge of a cycle, with the first place that makes it.
#[derive(Debug, Clone, PartialEq)]
struct Edge {
    from: String,
    to: String,
    file: String,
    line: usize,
    code: String,
}

/// The cycles of one graph: the top-level modules, or the files of one directory module.
#[derive(Debug)]
struct ScopeCycles {
    scope: String,
    /// Each cycle's nodes in order, from its smallest node; shortest cycles first.
    cycles: Vec<Vec<String>>,
    /// Enumeration stopped at `MAX_CYCLES`.
    truncated: bool,
    /// Every edge that lies on a listed cycle.
    edges: Vec<Edge>,
    /// The groups of nodes that all reach each other (strongly connected, more than one node).
    tangles: Vec<Vec<String>>,
}

/// The strongly connected groups of more than one node.
fn tangles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for next in graph.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut groups: Vec<Vec<String>> = Vec::new();
    for (n, r) in &reaches {
        if groups.iter().any(|g| g.contains(n)) || !r.contains(*n) {
            continue;
        }
        let group: Vec<String> = r
            .iter()
            .filter(|m| reaches.get(m).is_some_and(|back| back.contains(*n)))
            .cloned()
            .collect();
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

const MAX_CYCLES: usize = 500;

/// A directory module's own file (`mod.rs`) is the root of its directory, as `lib.rs` is of the
/// crate: it may import any file of its directory, so it is on no cycle of that directory (it
/// declares them, wires their routes, re-exports them), and the files below may use its items.
/// With `false`, `mod.rs` is a node like any other file, and `api/mod.rs` (which registers each
/// file's routes) with `api/accounts.rs` (which uses its `Auth` extractor) is a cycle.
const PARENT_MAY_IMPORT_ITS_FILES: bool = true;

/// Every elementary cycle of `graph`, each once, starting at its smallest node.
fn elementary_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> (Vec<Vec<String>>, bool) {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
    ) -> bool {
        let last = path.last().cloned().unwrap_or_default();
        for next in graph.get(&last).into_iter().flatten() {
            if next == start {
                found.push(path.clone());
                if found.len() >= MAX_CYCLES {
                    return false;
                }
            } else if next.as_str() > start && !path.contains(next) {
                path.push(next.clone());
                let more = walk(graph, start, path, found);
                path.pop();
                if !more {
                    return false;
                }
            }
        }
        true
    }
    let mut found = Vec::new();
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        if !walk(graph, start, &mut path, &mut found) {
            return (found, true);
        }
    }
    found.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    (found, false)
}

/// Finds the import cycles in a source tree given as (path under `src/`, text) pairs.
fn find_cycles(files: &[(String, String)]) -> Vec<ScopeCycles> {
    let mut files: Vec<(String, ModPath, &str)> = files
        .iter()
        .filter(|(rel, _)| !rel.split('/').any(|p| p == "tests"))
        .filter_map(|(rel, src)| Some((rel.replace('\\', "/"), module_of(rel)?, src.as_str())))
        .collect();
    files.sort();
    let modules: BTreeSet<ModPath> = files.iter().map(|f| f.1.clone()).collect();
    let is_module = |p: &[String]| modules.contains(p);

    // Scan every file; drop those that are test code.
    let mut scanned: Vec<(String, ModPath, &str, FileRefs)> = files
        .iter()
        .map(|(rel, m, src)| (rel.clone(), m.clone(), *src, scan_file(src, m, &is_module)))
        .collect();
    let mut test_roots: Vec<ModPath> = Vec::new();
    for (_, m, _, refs) in &scanned {
        for name in &refs.test_modules {
            let mut p = m.clone();
            p.push(name.clone());
            test_roots.push(p);
        }
    }
    scanned
        .retain(|(_, m, _, refs)| !refs.test_only && !test_roots.iter().any(|t| m.starts_with(t)));
    let modules: BTreeSet<ModPath> = scanned.iter().map(|f| f.1.clone()).collect();
    let file_of: BTreeMap<ModPath, String> = scanned
        .iter()
        .filter(|f| !f.1.is_empty())
        .map(|f| (f.1.clone(), f.0.clone()))
        .collect();

    // Names the root brings into scope (`use x::Y;`, `pub use x::Y;`): `crate::Y` is `x::Y`.
    let root_names: BTreeMap<String, Vec<String>> = scanned
        .iter()
        .filter(|f| f.0 == "lib.rs")
        .flat_map(|f| f.3.named.iter())
        .filter_map(|n| Some((n.use_name.clone()?, n.path.clone())))
        .collect();
    let resolve = |path: &[String]| -> ModPath {
        let mut path = path.to_vec();
        if let Some(first) = path.first() {
            if !modules.contains(&path[..1]) {
                if let Some(target) = root_names.get(first) {
                    let mut p = target.clone();
                    p.extend(path.drain(1..));
                    path = p;
                }
            }
        }
        (0..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|p| modules.contains(p))
            .unwrap_or_default()
    };

    // Every (importing module, imported module) with its first place.
    let mut imports: Vec<(ModPath, ModPath, String, usize, String)> = Vec::new();
    for (rel, module, src, refs) in &scanned {
        if module.is_empty() {
            continue;
        }
        let lines: Vec<&str> = src.lines().collect();
        for named in &refs.named {
            let target = resolve(&named.path);
            if target != *module {
                let code = lines.get(named.line.wrapping_sub(1)).unwrap_or(&"").trim();
                imports.push((
                    module.clone(),
                    target,
                    rel.clone(),
                    named.line,
                    code.to_string(),
                ));
            }
        }
    }

    // The scopes: the root, then every directory module.
    let mut scopes: BTreeSet<ModPath> = BTreeSet::new();
    scopes.insert(Vec::new());
    for m in &modules {
        for k in 1..m.len() {
            scopes.insert(m[..k].to_vec());
        }
    }
    let has_children = |m: &ModPath| {
        modules
            .iter()
            .any(|x| x.len() > m.len() && x.starts_with(m))
    };

    let mut report = Vec::new();
    for scope in &scopes {
        // The node a module is in, within this scope.
        let node = |m: &ModPath| -> Option<String> {
            if !m.starts_with(scope) {
                return None;
            }
            if m.len() == scope.len() {
                // The directory module's own file; the crate root is always left out.
                if scope.is_empty() || PARENT_MAY_IMPORT_ITS_FILES {
                    return None;
                }
                return file_of.get(m).cloned();
            }
            let child = m[..=scope.len()].to_vec();
            if scope.is_empty() {
                return Some(child[0].clone());
            }
            if has_children(&child) {
                return Some(format!("{}/", child.join("/")));
            }
            file_of.get(&child).cloned()
        };
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut first: BTreeMap<(String, String), Edge> = BTreeMap::new();
        for (from, to, file, line, code) in &imports {
            let (Some(a), Some(b)) = (node(from), node(to)) else {
                continue;
            };
            if a == b {
                continue;
            }
            graph.entry(a.clone()).or_default().insert(b.clone());
            first.entry((a.clone(), b.clone())).or_insert(Edge {
                from: a,
                to: b,
                file: format!("src/{file}"),
                line: *line,
                code: code.clone(),
            });
        }
        let tangles = tangles(&graph);
        let (cycles, truncated) = elementary_cycles(&graph);
        if cycles.is_empty() {
            continue;
        }
        let mut on_cycle: BTreeSet<(String, String)> = BTreeSet::new();
        for c in &cycles {
            for (k, a) in c.iter().enumerate() {
                on_cycle.insert((a.clone(), c[(k + 1) % c.len()].clone()));
            }
        }
        report.push(ScopeCycles {
            scope: if scope.is_empty() {
                "the top-level modules of src/".to_string()
            } else {
                format!("the files of src/{}/", scope.join("/"))
            },
            cycles,
            truncated,
            edges: on_cycle.iter().map(|k| first[k].clone()).collect(),
            tangles,
        });
    }
    report
}

fn render(report: &[ScopeCycles]) -> String {
    let mut s = String::new();
    for r in report {
        s.push_str(&format!(
            "\nImport cycles between {}: {}{} cycle(s)\n",
            r.scope,
            if r.truncated { "at least " } else { "" },
            r.cycles.len(),
        ));
        for t in &r.tangles {
            s.push_str(&format!("  these reach each other: {}\n", t.join(", ")));
        }
        s.push_str("  imports on a cycle (the first place of each):\n");
        let width = r
            .edges
            .iter()
            .map(|e| e.from.len() + e.to.len() + 4)
            .max()
            .unwrap_or(0);
        for e in &r.edges {
            let arrow = format!("{} -> {}", e.from, e.to);
            s.push_str(&format!(
                "    {arrow:width$}  {}:{}  {}\n",
                e.file, e.line, e.code
            ));
        }
        s.push_str("  every cycle, shortest first:\n");
        for c in &r.cycles {
            s.push_str(&format!("    {} -> {}\n", c.join(" -> "), c[0]));
        }
    }
    s
}

/// Every `.rs` file under `dir`, as (path relative to `root`, `/`-separated; text).
fn read_tree_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            read_tree_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src/");
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.push((
                rel,
                std::fs::read_to_string(&path).expect("source is UTF-8"),
            ));
        }
    }
}

#[test]
fn no_import_cycles_between_modules_or_between_the_files_of_a_directory() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree_files(&src, &src, &mut files);
    assert!(
        files.iter().any(|(rel, _)| rel == "lib.rs"),
        "src/lib.rs is read"
    );
    let report = find_cycles(&files);
    assert!(
        report.is_empty(),
        "modules import each other in a cycle; a module lower in the layering must not import \
         one above it (move the shared piece down, or pass it in).{}",
        render(&report)
    );
}

// ---------------------------------------------------------------------------------------------
// The detector itself, on small trees in memory.

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

fn cycles_of(report: &[ScopeCycles], scope: &str) -> Vec<Vec<String>> {
    report
        .iter()
        .find(|r| r.scope == scope)
        .map(|r| r.cycles.clone())
        .unwrap_or_default()
}

const TOP: &str = "the top-level modules of src/";

/// A layered tree: `app` uses `store` and `util`, `store` uses `util`; `util/` has `a.rs` using
/// `b.rs`. Every way of naming a module appears, and so does every place a name must not count.
fn acyclic() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "lib.rs",
            "pub mod app; pub mod store; pub mod util;\npub use util::Helper;\nuse store::Db;\n",
        ),
        ("main.rs", "fn main() { hearth::app::run(); }\n"),
        (
            "app.rs",
            "use crate::store::{self, Db};\nuse crate::{util::a, Helper};\n\
             pub fn run() { crate::util::b::go(); let _ = store::open(); }\n",
        ),
        (
            "store/mod.rs",
            "mod sql;\npub struct Db;\npub fn open() -> Db { sql::q(); Db }\n\
             use crate::util::{\n    a::A,\n    b as bee,\n};\n",
        ),
        (
            "store/sql.rs",
            "use super::super::util::b;\npub fn q() { let _ = crate::Helper; b::go(); }\n\
             // crate::app::run() in a comment\n/* crate::app::run() /* nested */ */\n\
             const S: &str = \"crate::app::run()\";\nconst R: &str = r#\"crate::app\"#;\n\
             macro_rules! m { () => { $crate::app::run() } }\n\
             #[cfg(test)]\nmod tests {\n    use crate::app::run;\n    fn t() { super::super::super::app::run(); }\n}\n\
             #[cfg(test)]\nfn helper() { crate::app::run() }\n\
             pub(crate) fn vis<'a>(x: &'a str) -> char { let _ = x; 'c' }\n",
        ),
        (
            "util/mod.rs",
            "pub mod a;\npub mod b;\npub struct Helper;\n#[cfg(test)]\nmod fixtures;\n",
        ),
        ("util/a.rs", "pub struct A;\npub fn f() { super::b::go(); }\n"),
        ("util/b.rs", "pub fn go() {}\n"),
        ("util/fixtures.rs", "use crate::app::run;\n"),
        ("util/tests/mod.rs", "use crate::app::run;\n"),
    ]
}

#[test]
fn the_detector_accepts_an_acyclic_tree() {
    let report = find_cycles(&tree(&acyclic()));
    assert!(report.is_empty(), "{}", render(&report));
}

#[test]
fn the_detector_finds_cycles_between_top_level_modules_with_their_places() {
    let mut files = acyclic();
    // util -> app closes util -> app -> store -> util and util -> app -> util.
    files.retain(|f| f.0 != "util/b.rs");
    files.push((
        "util/b.rs",
        "pub fn go() {}\n\nfn back() { crate::app::run(); }\n",
    ));
    let report = find_cycles(&tree(&files));
    assert_eq!(
        cycles_of(&report, TOP),
        vec![vec!["app", "util"], vec!["app", "store", "util"]],
        "{}",
        render(&report)
    );
    let top = report.iter().find(|r| r.scope == TOP).unwrap();
    let back = top.edges.iter().find(|e| e.from == "util").unwrap();
    assert_eq!(
        (back.to.as_str(), back.file.as_str(), back.line),
        ("app", "src/util/b.rs", 3)
    );
    assert_eq!(back.code, "fn back() { crate::app::run(); }");
    let use_line = top
        .edges
        .iter()
        .find(|e| e.from == "store" && e.to == "util")
        .unwrap();
    // The first place store names util: `crate::Helper` (a root re-export) in sql.rs, line 2,
    // comes after store/mod.rs's `use crate::util::{ a::A, ...}` (line 5, the leaf's line).
    assert_eq!(
        (use_line.file.as_str(), use_line.line),
        ("src/store/mod.rs", 5)
    );
    let text = render(&report);
    assert!(text.contains("app -> util -> app"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("util -> app ") && l.contains("src/util/b.rs:3  fn back()")),
        "{text}"
    );
    assert!(
        text.contains("these reach each other: app, store, util"),
        "{text}"
    );
}

#[test]
fn the_detector_finds_cycles_between_the_files_of_a_directory() {
    let mut files = acyclic();
    files.retain(|f| f.0 != "util/b.rs");
    files.push(("util/b.rs", "use super::a::A;\npub fn go() {}\n"));
    let report = find_cycles(&tree(&files));
    assert!(cycles_of(&report, TOP).is_empty(), "{}", render(&report));
    assert_eq!(
        cycles_of(&report, "the files of src/util/"),
        vec![vec!["util/a.rs", "util/b.rs"]],
        "{}",
        render(&report)
    );
}

#[test]
fn a_directory_module_file_may_import_its_files() {
    // store/mod.rs calls `sql::q()`, and store/sql.rs uses the parent's `Db`.
    let mut files = acyclic();
    let sql = files.iter_mut().find(|f| f.0 == "store/sql.rs").unwrap();
    sql.1 = "use super::Db;\npub fn q() {}\n";
    let report = find_cycles(&tree(&files));
    let expected: Vec<Vec<&str>> = if PARENT_MAY_IMPORT_ITS_FILES {
        vec![]
    } else {
        vec![vec!["store/mod.rs", "store/sql.rs"]]
    };
    assert_eq!(
        cycles_of(&report, "the files of src/store/"),
        expected,
        "{}",
        render(&report)
    );
}

#[test]
fn a_subdirectory_is_one_node_of_its_parent_directory() {
    let files = tree(&[
        ("lib.rs", "pub mod t;\n"),
        ("t/mod.rs", "pub mod kinds;\npub mod runner;\n"),
        ("t/runner.rs", "use super::kinds::find;\n"),
        ("t/kinds/mod.rs", "pub mod one;\npub fn find() {}\n"),
        ("t/kinds/one.rs", "use crate::t::runner::Job;\n"),
    ]);
    let report = find_cycles(&files);
    assert_eq!(
        cycles_of(&report, "the files of src/t/"),
        vec![vec!["t/kinds/", "t/runner.rs"]],
        "{}",
        render(&report)
    );
}
