//! `--load`: what runs on the CPUs a Linux run does not measure (`hackbench`, `memory`,
//! `stress-ng:ARGS`, joined by `+`; `none`), as the user writes it and as the probe reads it.

use anyhow::Result;

use crate::{fail, status};

/// One load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// rt-tests' hackbench, run again as each run ends.
    Hackbench,
    /// The probe's memory-bandwidth hog.
    Memory,
    /// stress-ng with these arguments (as the user wrote them, space-separated).
    StressNg(String),
}

/// The loads of one run, run together (none: an idle machine).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    items: Vec<Item>,
}

/// What stress-ng's arguments may hold: they travel in the probe's command line, through a shell
/// for `--ssh`, so nothing a shell would read.
fn plain(args: &str) -> bool {
    args.chars()
        .all(|c| c.is_ascii_alphanumeric() || " _=.:/%-".contains(c))
}

fn item(text: &str) -> Result<Option<Item>> {
    let text = text.trim();
    Ok(Some(match text.split_once(':') {
        None if text == "none" || text.is_empty() => return Ok(None),
        None if text == "hackbench" => Item::Hackbench,
        None if text == "memory" => Item::Memory,
        None if text == "stress-ng" => Item::StressNg(String::new()),
        Some(("stress-ng", args)) if plain(args) => {
            Item::StressNg(args.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        Some(("stress-ng", args)) => {
            return Err(fail(
                status::CONFIG,
                format!(
                    "--load stress-ng:{args}: stress-ng's arguments may hold letters, digits, spaces and _=.:/%- only"
                ),
            ));
        }
        _ => {
            return Err(fail(
                status::CONFIG,
                format!("--load {text}: expected hackbench, memory, stress-ng[:ARGS] or none"),
            ));
        }
    }))
}

impl Load {
    /// One run's loads: joined by `+` (or `,`: `linux --load hackbench,memory` runs both).
    pub fn parse(text: &str) -> Result<Load> {
        let mut items = Vec::new();
        for part in text.split(['+', ',']) {
            if let Some(i) = item(part)?
                && !items.contains(&i)
            {
                items.push(i);
            }
        }
        Ok(Load { items })
    }

    /// A comparison's variants: separated by `,`, each one's loads joined by `+`
    /// (`none,hackbench,hackbench+memory`).
    pub fn parse_list(text: &str) -> Result<Vec<Load>> {
        let mut list: Vec<Load> = Vec::new();
        for variant in text.split(',') {
            let load = Load::parse(variant)?;
            if list.contains(&load) {
                return Err(fail(
                    status::CONFIG,
                    format!("--load {text}: `{}` is given twice", load.name()),
                ));
            }
            list.push(load);
        }
        Ok(list)
    }

    /// No load.
    pub fn is_none(&self) -> bool {
        self.items.is_empty()
    }

    /// As the user would write it: `hackbench+memory`, `stress-ng:--cpu 1`, `none`.
    pub fn name(&self) -> String {
        if self.is_none() {
            return "none".into();
        }
        let names: Vec<String> = self
            .items
            .iter()
            .map(|i| match i {
                Item::Hackbench => "hackbench".into(),
                Item::Memory => "memory".into(),
                Item::StressNg(a) if a.is_empty() => "stress-ng".into(),
                Item::StressNg(a) => format!("stress-ng:{a}"),
            })
            .collect();
        names.join("+")
    }

    /// For run labels and directory names: the loads without stress-ng's arguments.
    pub fn label(&self) -> String {
        let names: Vec<&str> = self.items.iter().map(Item::tool).collect();
        names.join("+")
    }

    /// The probe's `--load` value (stress-ng's arguments separated by commas, no spaces).
    pub fn probe_arg(&self) -> String {
        let names: Vec<String> = self
            .items
            .iter()
            .map(|i| match i {
                Item::StressNg(a) if !a.is_empty() => format!("stress-ng:{}", a.replace(' ', ",")),
                other => other.tool().into(),
            })
            .collect();
        names.join("+")
    }

    /// The tools it runs (`hackbench`, `stress-ng`); `memory` is the probe's own.
    pub fn tools(&self) -> Vec<&'static str> {
        self.items
            .iter()
            .map(Item::tool)
            .filter(|t| *t != "memory")
            .collect()
    }
}

impl Item {
    fn tool(&self) -> &'static str {
        match self {
            Item::Hackbench => "hackbench",
            Item::Memory => "memory",
            Item::StressNg(_) => "stress-ng",
        }
    }
}

/// The Debian package that holds a load's tool.
pub fn package(tool: &str) -> &'static str {
    match tool {
        "hackbench" => "rt-tests",
        _ => "stress-ng",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_parse_join_and_render_for_the_probe() {
        let l = Load::parse("hackbench+stress-ng:--cpu 1  --vm 1").unwrap();
        assert_eq!(l.name(), "hackbench+stress-ng:--cpu 1 --vm 1");
        assert_eq!(l.label(), "hackbench+stress-ng");
        assert_eq!(l.probe_arg(), "hackbench+stress-ng:--cpu,1,--vm,1");
        assert_eq!(l.tools(), ["hackbench", "stress-ng"]);
        assert_eq!(
            Load::parse("hackbench,memory").unwrap().name(),
            "hackbench+memory"
        );
        assert!(Load::parse("none").unwrap().is_none());
        let list = Load::parse_list("none,hackbench,hackbench+memory").unwrap();
        let names: Vec<String> = list.iter().map(Load::name).collect();
        assert_eq!(names, ["none", "hackbench", "hackbench+memory"]);
    }

    #[test]
    fn bad_loads_are_refused_with_the_reason() {
        let e = Load::parse("kcompile").unwrap_err().to_string();
        assert!(
            e.contains("kcompile") && e.contains("expected hackbench"),
            "{e}"
        );
        let e = Load::parse("stress-ng:--cpu 1; reboot")
            .unwrap_err()
            .to_string();
        assert!(e.contains("letters, digits"), "{e}");
        let e = Load::parse_list("none,hackbench,none")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`none` is given twice"), "{e}");
    }
}
