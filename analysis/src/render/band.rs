//! Plots drawn a band of rows at a time: a backend that keeps one horizontal band of a taller
//! image, so a PNG is encoded as its bands are drawn and a plot's pixels are never all in memory.
//!
//! The band sees the whole image's size and coordinates: shapes are rasterised exactly as on the
//! whole image, and only their pixels, lines and rectangles are moved into the band (clipped by
//! plotters' bitmap backend), so each band's pixels are the whole image's, bit for bit.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, DrawingErrorKind, rasterizer};
use std::io::Write;

/// Rows drawn at once: 1200 px wide, a band holds 0.46 MB where a whole plot held 2.7 MB.
pub const BAND_ROWS: u32 = 128;

/// Rows `top..top + rows` of an image of `size`, drawn into `rgb`.
pub struct Band<'a> {
    inner: BitMapBackend<'a>,
    size: (u32, u32),
    top: i32,
}

impl<'a> Band<'a> {
    /// `rgb` holds the band's rows (`size.0 × rows × 3` bytes).
    pub fn new(rgb: &'a mut [u8], size: (u32, u32), top: u32, rows: u32) -> Band<'a> {
        Band {
            inner: BitMapBackend::with_buffer(rgb, (size.0, rows)),
            size,
            top: top as i32,
        }
    }

    fn shift(&self, (x, y): BackendCoord) -> BackendCoord {
        (x, y - self.top)
    }
}

impl DrawingBackend for Band<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let p = self.shift(point);
        self.inner.draw_pixel(p, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        // The bitmap fills a thin horizontal or vertical line as a rectangle (clipped); any other
        // line is rasterised here, on the whole image, into pixels.
        if (from.0 == to.0 || from.1 == to.1) && style.stroke_width() == 1 {
            let (a, b) = (self.shift(from), self.shift(to));
            return self.inner.draw_line(a, b, style);
        }
        rasterizer::draw_line(self, from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if fill {
            let (a, b) = (self.shift(upper_left), self.shift(bottom_right));
            return self.inner.draw_rect(a, b, style, true);
        }
        rasterizer::draw_rect(self, upper_left, bottom_right, style, false)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let p = self.shift(pos);
        self.inner.blit_bitmap(p, size, src)
    }
}

/// A `(w, h)` image drawn by `draw` (called once per band, on the whole image's drawing area),
/// as PNG bytes: 8-bit RGB, filters chosen per row (adaptive: plots compress about 3× better
/// than with one filter, and the HTML report inlines every PNG).
pub fn png<F>((w, h): (u32, u32), mut draw: F) -> Result<Vec<u8>>
where
    F: FnMut(&DrawingArea<Band<'_>, Shift>) -> Result<()>,
{
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Default);
    enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = enc.write_header()?;
    let mut stream = writer.stream_writer()?;
    let mut rgb = vec![0u8; w as usize * BAND_ROWS.min(h) as usize * 3];
    for top in (0..h).step_by(BAND_ROWS as usize) {
        let rows = BAND_ROWS.min(h - top);
        let buf = &mut rgb[..w as usize * rows as usize * 3];
        buf.fill(0);
        {
            let area = Band::new(buf, (w, h), top, rows).into_drawing_area();
            draw(&area)?;
            area.present()?;
        }
        stream.write_all(buf)?;
    }
    stream.finish()?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines at every slope and width, filled and blended rectangles, a circle, a polygon, text
    /// and a path across band boundaries.
    fn scene<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        for (i, w) in [1u32, 2, 3].into_iter().enumerate() {
            let style = ShapeStyle::from(&BLUE).stroke_width(w);
            let x = 20 + i as i32 * 60;
            root.draw(&PathElement::new(vec![(x, 5), (x + 50, 290)], style))?;
            root.draw(&PathElement::new(
                vec![(x, 250), (x + 40, 20), (x + 55, 200)],
                style,
            ))?;
        }
        root.draw(&Rectangle::new([(200, 100), (300, 160)], RED.filled()))?;
        root.draw(&Rectangle::new(
            [(250, 120), (350, 270)],
            GREEN.mix(0.4).filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(10, 120), (390, 140)],
            ShapeStyle::from(&BLACK).stroke_width(1),
        ))?;
        root.draw(&Circle::new(
            (320, 60),
            40,
            ShapeStyle::from(&MAGENTA).stroke_width(2),
        ))?;
        root.draw(&Polygon::new(
            vec![(100, 120), (180, 135), (140, 299)],
            CYAN.mix(0.6),
        ))?;
        root.draw(&Text::new("band 127|128", (150, 122), ("sans-serif", 18)))?;
        Ok(())
    }

    fn pixels(png: &[u8]) -> Vec<u8> {
        let d = png::Decoder::new(png);
        let mut r = d.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        buf
    }

    #[test]
    fn an_image_drawn_band_by_band_is_the_whole_image_bit_for_bit() {
        crate::render::plot::register_font();
        let size = (400, 300);
        let mut whole = vec![0u8; 400 * 300 * 3];
        {
            let root = BitMapBackend::with_buffer(&mut whole, size).into_drawing_area();
            scene(&root).unwrap();
            root.present().unwrap();
        }
        let mut calls = 0;
        let png = png(size, |root| {
            calls += 1;
            scene(root)
        })
        .unwrap();
        assert_eq!(calls, 3, "300 rows in bands of {BAND_ROWS}");
        let banded = pixels(&png);
        assert_eq!(banded.len(), whole.len());
        let differ = banded.iter().zip(&whole).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "bytes that differ from the whole image");
    }
}
