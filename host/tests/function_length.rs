//! No function outside tests runs past 80 lines, read from the sources of every crate (host,
//! analysis,
//! probe, core, firmware). Counted as `../shared/tools/fnlen.py` counts: from the `fn` line to
//! its closing brace, test modules (`#[cfg(test)]`) skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const LIMIT: usize = 80;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A line without string/char literals and comments (so their braces do not count).
fn code(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal ('x', '\n', '{'), or a lifetime ('a): only the former is skipped.
                let rest: String = chars.clone().take(3).collect();
                let len = match rest.as_bytes() {
                    [b'\\', _, b'\''] => 3,
                    [_, b'\'', ..] => 2,
                    _ => 0,
                };
                for _ in 0..len {
                    chars.next();
                }
                out.push('\'');
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

/// The name of the function a line declares, if it does.
fn declared(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "const" | "async" | "unsafe" | "extern" => {}
            _ if w.starts_with("pub(") || w.starts_with('"') => {}
            "fn" => {
                let name = words.next()?;
                let end = name
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(name.len());
                return Some(name[..end].to_string());
            }
            _ => return None,
        }
    }
    None
}

/// The line index where the item starting at `from` ends (brace matching).
fn item_end(lines: &[String], from: usize) -> Option<usize> {
    let (mut depth, mut started) = (0i64, false);
    for (j, t) in lines.iter().enumerate().skip(from) {
        if !started && t.contains(';') && !t.contains('{') && depth == 0 && j > from {
            return None;
        }
        depth += t.matches('{').count() as i64 - t.matches('}').count() as i64;
        started |= t.contains('{');
        if started && depth <= 0 {
            return Some(j);
        }
    }
    None
}

/// "path name" -> length of every function over the limit in `file`.
fn long_functions(file: &Path, rel: &str, out: &mut BTreeMap<String, usize>) {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<String> = text.lines().map(code).collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().starts_with("#[cfg(test)]") {
            i = item_end(&lines, i + 1).map_or(i + 1, |e| e + 1);
            continue;
        }
        if let Some(name) = declared(&lines[i])
            && let Some(end) = item_end(&lines, i)
            && end - i + 1 > LIMIT
        {
            out.insert(format!("{rel} {name}"), end - i + 1);
        }
        i += 1;
    }
}

fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "tests" | "benches" | "target") {
                sources(&path, files);
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

fn measured() -> BTreeMap<String, usize> {
    let root = root();
    let mut files = vec![];
    for dir in [
        "host/src",
        "analysis/src",
        "probe/src",
        "tickscope-core/src",
        "firmware",
    ] {
        sources(&root.join(dir), &mut files);
    }
    let mut long = BTreeMap::new();
    for f in files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        long_functions(&f, &rel, &mut long);
    }
    long
}

#[test]
fn no_function_runs_past_80_lines() {
    let long: Vec<String> = measured()
        .into_iter()
        .map(|(f, n)| format!("{f}: {n} lines (the limit is {LIMIT}): split it"))
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_counter_sees_braces_in_code_only() {
    assert_eq!(code(r#"let s = "{"; // }"#), r#"let s = ""; "#);
    assert_eq!(code("if c == '{' {"), "if c == ' {");
    assert_eq!(code("fn f<'a>(x: &'a str) {"), "fn f<'a>(x: &'a str) {");
    assert_eq!(
        declared("    pub(crate) fn run(a: u8) {"),
        Some("run".into())
    );
    assert_eq!(
        declared("pub unsafe extern \"C\" fn entry() -> ! {"),
        Some("entry".into())
    );
    assert_eq!(declared("let fn_name = 3;"), None);
    let lines: Vec<String> = ["fn f() {", "    if x {", "    }", "}", "fn g();"]
        .iter()
        .map(|l| code(l))
        .collect();
    assert_eq!(item_end(&lines, 0), Some(3));
    assert_eq!(item_end(&lines, 4), None);
}
