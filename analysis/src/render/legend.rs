//! Legends drawn by hand, outside a chart's plotting area (below or beside it), so they never
//! cover what the chart shows: plotters' own legend is clipped to the plotting area.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How an entry's sample is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A solid line (a curve).
    Line,
    /// A dashed line, dashes this long in px (a peer's curve).
    Dash(i32),
    /// A filled square (a bar's segment).
    Box,
    /// A filled dot (a scatter plot's points).
    Dot,
}

/// One entry: its text, its colour and stroke, and its mark.
pub struct Entry {
    pub text: String,
    pub style: ShapeStyle,
    pub mark: Mark,
}

const FONT: (&str, u32) = ("sans-serif", 16);
/// Height of one entry, px.
pub const ROW: i32 = 22;
/// Width of an entry's sample, px.
const MARK: i32 = 28;

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a legend: {e:?}")
}

/// The legend box's size for `entries`, px.
pub fn size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<(u32, u32)>
where
    DB::ErrorType: 'static,
{
    let mut width = 0;
    for e in entries {
        let text = area
            .estimate_text_size(&e.text, &FONT.into_text_style(area))
            .map_err(err)?;
        width = width.max(text.0);
    }
    Ok((
        width + MARK as u32 + 24,
        entries.len() as u32 * ROW as u32 + 12,
    ))
}

/// Draws a boxed legend with its top left corner at `at` (pixels of `area`).
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    entries: &[Entry],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if entries.is_empty() {
        return Ok(());
    }
    let (w, h) = size(area, entries)?;
    let corner = (at.0 + w as i32, at.1 + h as i32);
    area.draw(&Rectangle::new([at, corner], WHITE.mix(0.85).filled()))
        .map_err(err)?;
    area.draw(&Rectangle::new([at, corner], BLACK.stroke_width(1)))
        .map_err(err)?;
    for (i, e) in entries.iter().enumerate() {
        let y = at.1 + 6 + i as i32 * ROW + ROW / 2;
        let x = at.0 + 8;
        sample(area, (x, y), e)?;
        area.draw(&Text::new(
            e.text.clone(),
            (x + MARK + 8, y - 8),
            FONT.into_font(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// An entry's sample, `MARK` px wide, centred on `y`.
fn sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    e: &Entry,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let segments: Vec<(i32, i32)> = match e.mark {
        Mark::Box => {
            let square = Rectangle::new([(x + 7, y - 7), (x + 21, y + 7)], e.style.color.filled());
            return area.draw(&square).map_err(err);
        }
        Mark::Dot => {
            let dot = Circle::new((x + MARK / 2, y), 4, e.style.color.filled());
            return area.draw(&dot).map_err(err);
        }
        Mark::Line => vec![(x, x + MARK)],
        Mark::Dash(d) => (0..MARK)
            .step_by((d + 5) as usize)
            .map(|s| (x + s, (x + s + d).min(x + MARK)))
            .collect(),
    };
    for (a, b) in segments {
        area.draw(&PathElement::new(vec![(a, y), (b, y)], e.style))
            .map_err(err)?;
    }
    Ok(())
}
