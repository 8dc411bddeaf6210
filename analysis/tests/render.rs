//! The whole pure path on a real capture, in memory: the fixture's bytes decode, attribute and
//! make a record; the run's files and the report come back as named bytes (no directory): every
//! plot a PNG of its stated size and an SVG, the HTML with every plot inlined and no Markdown
//! left in it.

use std::time::Duration;

use tickscope_analysis::analysis::Analysis;
use tickscope_analysis::capture::{Capture, End, Expect};
use tickscope_analysis::record::{self, Policy};
use tickscope_analysis::render::{self, Artifact, plot, report};

const FIXTURE: &[u8] = include_bytes!("../../tickscope-core/tests/data/timer-tick.capture");

fn capture() -> Capture {
    Capture {
        bytes: FIXTURE.to_vec(),
        spill: None,
        console: String::new(),
        emulator_log: Vec::new(),
        end: End::Exited(0),
        facts: Default::default(),
        elf: None,
        config: String::new(),
        wall: Duration::ZERO,
        boot_s: None,
        keep: Vec::new(),
        expect: Expect::default(),
    }
}

fn record() -> (Analysis, record::RunRecord) {
    let cap = capture();
    let mut a = Analysis::default();
    let link = tickscope_analysis::decode::decode_bytes(&cap.bytes, None, &mut a).unwrap();
    let r = record::make(
        &cap,
        &a,
        link,
        "fixture",
        "capture",
        String::new(),
        &Policy::default(),
    );
    (a, r)
}

fn find<'a>(files: &'a [Artifact], name: &str) -> &'a Artifact {
    files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no {name} among {:?}", names(files)))
}

fn names(files: &[Artifact]) -> Vec<&str> {
    files.iter().map(|f| f.name.as_str()).collect()
}

/// Width and height of a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(bytes).read_info().unwrap();
    (reader.info().width, reader.info().height)
}

#[test]
fn a_run_renders_its_files_in_memory() {
    let (a, r) = record();
    assert_eq!(r.status(), 0, "{:?}", r.info.problems);
    let mut files: Vec<Artifact> = Vec::new();
    render::run_files(&a, &r, true, &mut files).unwrap();
    let hist = String::from_utf8(find(&files, "histogram.txt").bytes.clone()).unwrap();
    assert!(hist.contains("# Total:"), "{hist}");
    let csv = String::from_utf8(find(&files, "summary.csv").bytes.clone()).unwrap();
    let cores: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    assert_eq!(cores, ["1", "all"], "{csv}");
    for kind in plot::Kind::ALL {
        let png = find(&files, &format!("{}.png", kind.stem()));
        let (w, h) = png_size(&png.bytes);
        assert!(w >= 800 && h >= 300, "{}: {w}x{h}", png.name);
        let svg = String::from_utf8(find(&files, &format!("{}.svg", kind.stem())).bytes.clone());
        assert!(
            svg.unwrap().starts_with("<svg"),
            "{} is no SVG",
            kind.stem()
        );
    }
}

#[test]
fn the_report_inlines_every_plot_and_leaves_no_markdown() {
    let (a, r) = record();
    let runs = [report::ReportRun {
        info: &r.info,
        view: render::view(&r.summary, &a, &r.splits),
    }];
    let mut files: Vec<Artifact> = Vec::new();
    report::render(&runs, &plot::PlotOptions::default(), &mut files).unwrap();
    let md = String::from_utf8(find(&files, "report.md").bytes.clone()).unwrap();
    let html = String::from_utf8(find(&files, "report.html").bytes.clone()).unwrap();
    let images = md.matches("![").count();
    assert!(
        images >= plot::Kind::ALL.len(),
        "{images} images in report.md"
    );
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), images);
    assert!(!html.contains("**"), "Markdown emphasis left in the HTML");
    assert!(html.contains("<table>") && html.contains("<p class=\"finding\">In one line:"));
}

/// An attribute's number in an SVG element's text (`x="12"`).
fn attr(element: &str, name: &str) -> f64 {
    let v = element.split(&format!(" {name}=\"")).nth(1).unwrap();
    v.split('"').next().unwrap().parse().unwrap()
}

/// Each `<text>` of an SVG: its y and its content.
fn svg_texts(svg: &str) -> Vec<(f64, String)> {
    svg_texts_at(svg)
        .into_iter()
        .map(|(_, y, t)| (y, t))
        .collect()
}

/// Each `<text>` of an SVG: its x, y and content.
fn svg_texts_at(svg: &str) -> Vec<(f64, f64, String)> {
    svg.split("<text ")
        .skip(1)
        .map(|t| {
            let t = format!(" {t}");
            let body = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
            (attr(&t, "x"), attr(&t, "y"), body.trim().to_string())
        })
        .collect()
}

#[test]
fn legends_are_below_the_plots_never_over_what_they_show() {
    let (a, r) = record();
    let mut files: Vec<Artifact> = Vec::new();
    render::run_files(&a, &r, true, &mut files).unwrap();
    for plot in ["ccdf", "histogram", "latency_1us", "maxima"] {
        let svg = String::from_utf8(find(&files, &format!("{plot}.svg")).bytes.clone()).unwrap();
        let texts = svg_texts(&svg);
        // Legend entries name the run; every other text (title, axes, their labels) is above.
        let (legend, other): (Vec<_>, Vec<_>) =
            texts.iter().partition(|(_, t)| t.starts_with("fixture"));
        assert!(!legend.is_empty(), "{plot}: no legend entry in {texts:?}");
        let lowest_other = other.iter().map(|(y, _)| *y).fold(0.0, f64::max);
        for (y, t) in legend {
            assert!(
                *y > lowest_other,
                "{plot}: legend entry `{t}` at y {y}, above the axis text at {lowest_other}"
            );
        }
    }
}

#[test]
fn the_causes_legend_is_beside_the_bars() {
    let (a, r) = record();
    let mut files: Vec<Artifact> = Vec::new();
    render::run_files(&a, &r, true, &mut files).unwrap();
    let svg = String::from_utf8(find(&files, "causes.svg").bytes.clone()).unwrap();
    // The plot's right edge: where its grid lines end.
    let right = svg
        .split("<line ")
        .skip(1)
        .map(|l| attr(&format!(" {l}"), "x2"))
        .fold(0.0, f64::max);
    let causes: Vec<String> = r
        .summary
        .attributed
        .causes
        .iter()
        .filter(|c| c.events > 0)
        .map(|c| c.name.clone())
        .collect();
    assert!(!causes.is_empty(), "the fixture's run has causes");
    let texts = svg_texts_at(&svg);
    for name in &causes {
        let (x, _, _) = texts
            .iter()
            .find(|(_, _, t)| t == name)
            .unwrap_or_else(|| panic!("no legend entry {name} in {texts:?}"));
        assert!(
            *x > right,
            "legend entry {name} at x {x}, inside the plot (right edge {right})"
        );
    }
}
