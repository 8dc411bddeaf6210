//! The firmware's layering, read from its sources: board data <- cpu/arch (its own crate) <- io <-
//! shutdown <- fault <- boot <- run <- main. No module imports one of a higher layer, and no
//! crate's modules import each other in a circle. Imports are read from `crate::`, `super::` and
//! child-module paths in code (comments are skipped), so a new upward call fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Module path (`run::window`; the crate root is the empty path) -> its source, without comments.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "main" | "lib")
            ) {
                parts.pop();
            }
            // Unit-test modules (`#[cfg(test)]`, last in a file by convention) are not the
            // module's imports: their `super::` is the module itself.
            let code: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .map(|l| match l.find("//") {
                    Some(i) => &l[..i],
                    None => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(parts.join("::"), code);
        }
    }
    out
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The modules `module` refers to: `crate::a::b`, `super::x`, and its own children by name in a
/// `use`, each resolved to the longest known module path.
fn references(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent: Vec<&str> = if module.is_empty() {
        vec![]
    } else {
        let mut p: Vec<&str> = module.split("::").collect();
        p.pop();
        p
    };
    let mut paths: Vec<Vec<String>> = Vec::new();
    // Absolute and parent-relative paths, including grouped imports `crate::{a, b::c}`.
    for (prefix, base) in [("crate::", vec![]), ("super::", parent.clone())] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let after = &rest[i + prefix.len()..];
            rest = after;
            if let Some(group) = after.strip_prefix('{') {
                let body = &group[..group.find('}').unwrap_or(0)];
                for item in body.split(',') {
                    let first = ident_at(item.trim());
                    if !first.is_empty() {
                        let mut p: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                        p.push(first);
                        paths.push(p);
                    }
                }
                continue;
            }
            let mut p: Vec<String> = base.iter().map(|s| s.to_string()).collect();
            let mut seg = after;
            loop {
                let id = ident_at(seg);
                if id.is_empty() {
                    break;
                }
                seg = &seg[id.len()..];
                p.push(id);
                match seg.strip_prefix("::") {
                    Some(s) => seg = s,
                    None => break,
                }
            }
            paths.push(p);
        }
    }
    // Children by name (`use child::...`, `child::f()`): a path segment `child::` not preceded
    // by another segment.
    let own: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices("::") {
        let start = code[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |j| j + 1);
        let preceded = start >= 2 && &bytes[start - 2..start] == b"::";
        let name = &code[start..i];
        if preceded || name.is_empty() {
            continue;
        }
        let mut p = own.clone();
        p.push(name.to_string());
        if known.contains(&p.join("::")) {
            paths.push(p);
        }
    }
    let mut out = BTreeSet::new();
    for p in paths {
        for n in (1..=p.len()).rev() {
            let candidate = p[..n].join("::");
            if known.contains(&candidate) {
                if candidate != module {
                    out.insert(candidate);
                }
                break;
            }
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph(src: &Path) -> Graph {
    let mods = modules(src);
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    mods.iter()
        .map(|(m, code)| (m.clone(), references(m, code, &known)))
        .collect()
}

/// A cycle among the graph's modules, if any.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = path.iter().position(|p| p == n).unwrap();
                let mut c = path[at..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

/// The firmware crate's layers, bottom up; the crate root (`main.rs`) wires them together.
const FIRMWARE_LAYERS: &[&str] = &["build_info", "io", "shutdown", "fault", "boot", "run", ""];

fn rank(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    FIRMWARE_LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or_else(|| {
            panic!("module `{module}` belongs to no layer: add it to FIRMWARE_LAYERS")
        })
}

#[test]
fn firmware_modules_only_import_lower_layers() {
    let g = graph(&root().join("firmware/src"));
    assert!(g.len() > 15, "read {} modules", g.len());
    // The reader sees relative paths too: the crate root wires boot and run, run uses its roles.
    assert!(g[""].contains("boot") && g[""].contains("run"), "{g:#?}");
    assert!(g["run"].contains("run::window"), "{g:#?}");
    let mut upward = Vec::new();
    for (m, refs) in &g {
        for r in refs {
            if rank(r) > rank(m) {
                upward.push(format!("{m} -> {r}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports of a higher layer: {upward:#?}");
}

#[test]
fn no_crate_of_the_firmware_imports_in_a_circle() {
    for dir in ["firmware/src", "firmware/cpu/src", "firmware/board/src"] {
        let g = graph(&root().join(dir));
        assert_eq!(cycle(&g), None, "{dir}: import circle");
    }
}

#[test]
fn the_cpu_layer_and_board_data_know_nothing_above_them() {
    for (dir, above) in [
        ("firmware/cpu", &["tickscope_fw", "tickscope-fw"][..]),
        (
            "firmware/board",
            &[
                "tickscope_fw",
                "tickscope-fw",
                "tickscope_cpu",
                "tickscope-cpu",
            ][..],
        ),
    ] {
        let manifest = std::fs::read_to_string(root().join(dir).join("Cargo.toml")).unwrap();
        let deps = &manifest[manifest.find("[dependencies]").unwrap()..];
        for name in above {
            assert!(!deps.contains(name), "{dir} depends on {name}");
        }
        for (m, code) in modules(&root().join(dir).join("src")) {
            for name in above {
                assert!(!code.contains(name), "{dir}: module `{m}` names {name}");
            }
        }
    }
}

#[test]
fn the_host_imports_in_no_circle_and_commands_do_not_import_each_other() {
    let g = graph(&root().join("host/src"));
    assert!(g.len() > 40, "read {} modules", g.len());
    assert!(
        g["cli"].contains("cli::measure"),
        "the dispatcher's commands are seen: {g:#?}"
    );
    assert!(g["cli::measure"].contains("cli::output"), "{g:#?}");
    assert_eq!(cycle(&g), None, "host/src: import circle");
    // A command is `cli::NAME`; the shared option groups and output, and the dispatcher, are not.
    let is_command = |m: &str| {
        m.strip_prefix("cli::")
            .is_some_and(|c| !c.contains("::") && c != "options" && c != "output")
    };
    let mut crossing = Vec::new();
    for (m, refs) in &g {
        if is_command(m) {
            crossing.extend(
                refs.iter()
                    .filter(|r| is_command(r))
                    .map(|r| format!("{m} -> {r}")),
            );
        }
    }
    assert!(
        crossing.is_empty(),
        "commands importing commands: {crossing:#?}"
    );
}

#[test]
fn the_analysis_imports_in_no_circle() {
    let g = graph(&root().join("analysis/src"));
    assert!(g.len() > 15, "read {} modules", g.len());
    assert!(g["record"].contains("analysis"), "{g:#?}");
    assert_eq!(cycle(&g), None, "analysis/src: import circle");
}

/// The reader finds what it must: an upward import and a circle in a made-up tree.
#[test]
fn the_checks_catch_an_upward_import_and_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("run")).unwrap();
    std::fs::write(src.join("main.rs"), "mod io; mod run;\n").unwrap();
    std::fs::write(
        src.join("io.rs"),
        "// crate::run in a comment does not count\nuse crate::run::window::go;\n",
    )
    .unwrap();
    std::fs::write(src.join("run/mod.rs"), "pub mod window;\nuse window::go;\n").unwrap();
    std::fs::write(
        src.join("run/window.rs"),
        "use super::{Command, other};\npub fn go() { crate::io::x(); }\n",
    )
    .unwrap();
    let g = graph(src);
    assert_eq!(
        g["io"],
        BTreeSet::from(["run::window".to_string()]),
        "{g:#?}"
    );
    assert!(
        rank("run::window") > rank("io"),
        "io -> run::window is upward"
    );
    assert_eq!(
        g["run"],
        BTreeSet::from(["run::window".to_string()]),
        "{g:#?}"
    );
    let c = cycle(&g).expect("io -> run::window -> io is a circle");
    assert!(c.contains(&"io".to_string()) && c.contains(&"run::window".to_string()));
}
