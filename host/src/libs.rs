//! The shared libraries a dynamic binary loads (its DT_NEEDED, followed through each library),
//! found among unpacked Debian packages: what an initramfs must carry for a tool to start.
//!
//! Not a package's dependency closure: Debian's arm64 stress-ng depends on 42 packages (Mesa's,
//! X11's) most of which only its GPU stressor dlopens; the loader needs 20-odd files.

use anyhow::{Context, Result};
use object::read::elf::{Dyn, ElfFile64};
use object::{Endianness, elf};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The program interpreter every Debian arm64 binary names (PT_INTERP); in the initramfs at this
/// path, outside the multiarch directory.
pub const LOADER: &str = "ld-linux-aarch64.so.1";

/// Where Debian's packages keep arm64 libraries, searched in this order in each package.
const LIB_DIRS: [&str; 4] = [
    "lib/aarch64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "lib",
    "usr/lib",
];

/// The libraries an ELF file names in its dynamic section (DT_NEEDED), in its order; none for a
/// static binary.
pub fn needed(data: &[u8]) -> Result<Vec<String>> {
    let file = ElfFile64::<Endianness>::parse(data).context("not a 64-bit ELF file")?;
    let endian = file.endian();
    let sections = file.elf_section_table();
    let Some((entries, link)) = sections.dynamic(endian, data)? else {
        return Ok(Vec::new());
    };
    let strings = sections.strings(endian, data, link)?;
    let mut out = Vec::new();
    for d in entries {
        if d.tag32(endian) == Some(elf::DT_NEEDED) {
            let name = d.string(endian, strings)?;
            out.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(out)
}

/// One unpacked package: its name and the directory it was unpacked into.
#[derive(Debug, Clone)]
pub struct Unpacked {
    pub package: String,
    pub root: PathBuf,
}

/// A library found: its name, the file it was found at, and the package that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub path: PathBuf,
    pub package: String,
}

/// What a binary loads: the libraries found, and those not found with the package of the file
/// that names them (the next packages to fetch are that package's dependencies).
#[derive(Debug, Default)]
pub struct Closure {
    pub found: Vec<Found>,
    pub missing: Vec<(String, String)>,
}

/// The closure of `binary` (in `package`) over `unpacked`, reading each file's needs with
/// `needs` ([`needed`] of its bytes; a table in the tests).
pub fn closure(
    binary: &Path,
    package: &str,
    unpacked: &[Unpacked],
    needs: &dyn Fn(&Path) -> Result<Vec<String>>,
) -> Result<Closure> {
    let mut out = Closure::default();
    let mut seen = BTreeSet::new();
    let mut queue = vec![(binary.to_path_buf(), package.to_string())];
    while let Some((file, from)) = queue.pop() {
        let names = needs(&file).with_context(|| format!("reading {}", file.display()))?;
        for name in names {
            if !seen.insert(name.clone()) {
                continue;
            }
            match find(&name, unpacked) {
                Some(f) => {
                    queue.push((f.path.clone(), f.package.clone()));
                    out.found.push(f);
                }
                None => out.missing.push((name, from.clone())),
            }
        }
    }
    out.found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The first package that holds library `name` in one of its library directories.
fn find(name: &str, unpacked: &[Unpacked]) -> Option<Found> {
    unpacked.iter().find_map(|u| {
        LIB_DIRS.iter().find_map(|d| {
            let path = u.root.join(d).join(name);
            path.exists().then(|| Found {
                name: name.to_string(),
                path,
                package: u.package.clone(),
            })
        })
    })
}

/// Where a library goes in the initramfs: the loader where PT_INTERP names it, the others in the
/// multiarch directory the loader searches.
pub fn destination(name: &str) -> String {
    if name == LOADER {
        format!("lib/{name}")
    } else {
        format!("lib/aarch64-linux-gnu/{name}")
    }
}

/// The package names of a `Depends:` field, the first of each set of alternatives, without
/// versions or architecture qualifiers: `libc6 (>= 2.36), libegl1 | libegl-mesa0, zlib1g:any`
/// gives `libc6`, `libegl1`, `zlib1g`.
pub fn depends(field: &str) -> Vec<String> {
    field
        .split(',')
        .filter_map(|alts| {
            let first = alts.split('|').next()?.trim();
            let name = first.split([' ', '(', ':']).next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        }
        d
    }

    #[test]
    fn the_closure_follows_libraries_through_packages_and_names_what_is_missing() {
        let d = tree(&[
            "tool/usr/bin/tool",
            "libc6/lib/aarch64-linux-gnu/libc.so.6",
            "libc6/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
            "libgbm1/usr/lib/aarch64-linux-gnu/libgbm.so.1",
            "libdrm2/usr/lib/aarch64-linux-gnu/libdrm.so.2",
            // Unpacked but never named: not carried.
            "libegl-mesa0/usr/lib/aarch64-linux-gnu/libEGL_mesa.so.0",
        ]);
        let unpacked: Vec<Unpacked> = ["tool", "libc6", "libgbm1", "libdrm2", "libegl-mesa0"]
            .iter()
            .map(|p| Unpacked {
                package: p.to_string(),
                root: d.path().join(p),
            })
            .collect();
        let table: BTreeMap<&str, Vec<&str>> = [
            ("tool", vec!["libgbm.so.1", "libc.so.6", LOADER]),
            (
                "libgbm.so.1",
                vec!["libdrm.so.2", "libexpat.so.1", "libc.so.6"],
            ),
            ("libdrm.so.2", vec!["libc.so.6"]),
            ("libc.so.6", vec![LOADER]),
            (LOADER, vec![]),
        ]
        .into_iter()
        .collect();
        let needs = |p: &Path| -> Result<Vec<String>> {
            let name = p.file_name().unwrap().to_str().unwrap();
            Ok(table[name].iter().map(|s| s.to_string()).collect())
        };
        let c = closure(
            &d.path().join("tool/usr/bin/tool"),
            "tool",
            &unpacked,
            &needs,
        )
        .unwrap();
        let names: Vec<(&str, &str)> = c
            .found
            .iter()
            .map(|f| (f.name.as_str(), f.package.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("ld-linux-aarch64.so.1", "libc6"),
                ("libc.so.6", "libc6"),
                ("libdrm.so.2", "libdrm2"),
                ("libgbm.so.1", "libgbm1"),
            ]
        );
        assert_eq!(c.missing, [("libexpat.so.1".into(), "libgbm1".into())]);
    }

    #[test]
    fn depends_fields_give_the_first_alternative_without_versions() {
        assert_eq!(
            depends("libc6 (>= 2.36), libegl1 | libegl-mesa0, zlib1g:any (>= 1:1.1.4),"),
            ["libc6", "libegl1", "zlib1g"]
        );
        assert!(depends("").is_empty());
    }

    #[test]
    fn the_loader_goes_where_pt_interp_names_it() {
        assert_eq!(destination(LOADER), "lib/ld-linux-aarch64.so.1");
        assert_eq!(destination("libz.so.1"), "lib/aarch64-linux-gnu/libz.so.1");
    }

    #[test]
    fn needed_reads_an_elf_files_dynamic_section() {
        // This test binary itself: dynamic against the C library on every Linux host we build on.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let n = needed(&me).unwrap();
        assert!(n.iter().any(|l| l.starts_with("libc.so")), "{n:?}");
        assert!(needed(b"not an elf").is_err());
    }
}
