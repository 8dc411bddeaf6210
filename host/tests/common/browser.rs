//! A report page measured in a real browser: headless Chromium opens a copy of report.html at a
//! given width and reports, from its layout, what runs off the page. Where no Chromium is
//! installed, or it cannot run, the measurement is `None` and the caller says so (the test
//! command installs `chromium-headless-shell` when it runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the page's layout says at one width.
#[derive(Debug)]
pub struct Layout {
    /// The window's width, CSS px.
    pub width: u32,
    /// The document's scroll width: more than `width` means the page scrolls sideways.
    pub page_width: u32,
    /// Tables whose content is wider than their box (they scroll inside): their first header.
    pub scrolling_tables: Vec<String>,
    /// Tables on the page.
    pub tables: u32,
    /// Images whose right edge is past the window: their alt text.
    pub images_past_edge: Vec<String>,
    /// Images on the page, and how many had loaded.
    pub images: u32,
    pub images_loaded: u32,
}

/// The first Chromium found on PATH.
pub fn chromium() -> Option<PathBuf> {
    [
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ]
    .iter()
    .find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// The script that measures the page, writing its findings as JSON into the title.
const MEASURE: &str = r#"<script>
window.addEventListener('load', () => {
  const w = window.innerWidth;
  const tables = [...document.querySelectorAll('table')];
  const imgs = [...document.querySelectorAll('img')];
  document.title = 'MEASURED' + JSON.stringify({
    width: w,
    page_width: document.documentElement.scrollWidth,
    scrolling_tables: tables.filter(t => t.scrollWidth > t.clientWidth + 1)
      .map(t => (t.querySelector('th') || t).textContent.trim().slice(0, 40)),
    tables: tables.length,
    images_past_edge: imgs.filter(i => i.getBoundingClientRect().right > w + 1).map(i => i.alt),
    images: imgs.length,
    images_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
  });
});
</script></body>"#;

/// Opens `html` in headless Chromium `width` px wide and measures it; `None` without a browser.
pub fn layout(html: &Path, width: u32) -> Option<Layout> {
    let browser = chromium()?;
    let page = std::fs::read_to_string(html).unwrap();
    assert!(
        page.contains("</body>"),
        "{} has no </body>",
        html.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("measured.html");
    std::fs::write(&copy, page.replacen("</body>", MEASURE, 1)).unwrap();
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--window-size={width},1000"),
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", copy.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    // A browser that cannot start here (no display libraries, no shared memory) is as good as
    // none: say so loudly rather than fail on the machine instead of the page.
    let Some(found) = dom.find("<title>MEASURED") else {
        eprintln!(
            "{} did not measure the page (exit {:?}); the layout check is skipped:\n{}",
            browser.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    };
    let start = found + "<title>MEASURED".len();
    let json = &dom[start..start + dom[start..].find("</title>").unwrap()];
    let v: serde_json::Value = serde_json::from_str(&json.replace("&amp;", "&")).unwrap();
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let n = |k: &str| v[k].as_u64().unwrap() as u32;
    Some(Layout {
        width: n("width"),
        page_width: n("page_width"),
        scrolling_tables: strings("scrolling_tables"),
        tables: n("tables"),
        images_past_edge: strings("images_past_edge"),
        images: n("images"),
        images_loaded: n("images_loaded"),
    })
}

/// Asserts that the page fits `width`: no sideways scroll, no table scrolling inside, every
/// plot loaded and within the window. Returns whether a browser measured it.
pub fn assert_fits(html: &Path, width: u32) -> bool {
    let Some(l) = layout(html, width) else {
        eprintln!(
            "no Chromium on PATH: {} not measured in a browser",
            html.display()
        );
        return false;
    };
    assert_eq!(l.width, width, "{l:?}");
    assert!(l.page_width <= width, "the page scrolls sideways: {l:?}");
    assert!(l.tables > 0 && l.images > 0, "{l:?}");
    assert!(
        l.scrolling_tables.is_empty(),
        "tables wider than the page: {l:?}"
    );
    assert_eq!(l.images_loaded, l.images, "plots that did not load: {l:?}");
    assert!(l.images_past_edge.is_empty(), "plots past the edge: {l:?}");
    true
}
