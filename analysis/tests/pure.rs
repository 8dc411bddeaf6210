//! The analysis crate stays pure: its sources (tests aside) name no file-system, process,
//! network or environment API, so every figure comes from the bytes it is given. The host crate
//! runs guests and writes files; an import of one of these here fails this test.

use std::path::{Path, PathBuf};

/// APIs that reach outside the process's memory, and why each is the host's.
const FORBIDDEN: [(&str, &str); 8] = [
    (
        "std::fs",
        "files are the host's (it writes what `render` returns)",
    ),
    ("File::", "files are the host's"),
    ("std::process", "processes (QEMU, ssh, apt) are the host's"),
    ("Command::", "processes are the host's"),
    (
        "std::net",
        "the network (ser2net, telnet, ssh) is the host's",
    ),
    (
        "std::env",
        "the environment is the host's (options arrive as arguments)",
    ),
    ("tempfile", "files are the host's"),
    (
        "std::thread",
        "the analysis is one pass on the caller's thread",
    ),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of `text` before its unit tests (`#[cfg(test)]`, last by convention), comments cut.
fn code(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn violations(name: &str, text: &str) -> Vec<String> {
    let code = code(text);
    FORBIDDEN
        .iter()
        .filter(|(api, _)| code.contains(api))
        .map(|(api, why)| format!("{name} uses `{api}`: {why}"))
        .collect()
}

#[test]
fn the_analysis_touches_no_file_process_or_network() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    sources(&src, &mut files);
    assert!(
        files.len() > 10,
        "found only {} sources in {}",
        files.len(),
        src.display()
    );
    let found: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let name = f.strip_prefix(&src).unwrap().display().to_string();
            violations(&name, &std::fs::read_to_string(f).unwrap())
        })
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_sees_a_file_read_but_not_in_a_comment_or_a_test() {
    let bad = "fn f() { let b = std::fs::read(\"x\"); }";
    assert_eq!(violations("f.rs", bad).len(), 1);
    assert!(violations("f.rs", "// std::fs::read is the host's\nfn f() {}").is_empty());
    let in_test = "fn f() {}\n#[cfg(test)]\nmod tests { fn g() { std::process::exit(1) } }";
    assert!(violations("f.rs", in_test).is_empty());
}
