//! Text for the PNG charts: a drawing backend that passes everything to the one it wraps (the
//! bitmap backend) but lays out and rasterizes text itself with `ab_glyph`.
//!
//! plotters 0.3.7's own `ab_glyph` text drops each glyph's left side bearing and rounds the pen
//! position per glyph, so a PNG label reads "21:27:1 0" or "(USD T)"; it also sizes text by the
//! font's line height rather than its em. Here a glyph is placed at the pen position with its
//! bearing and kerning, the em is the SVG backend's `font-size` (plotters' size / 1.24), so the PNG
//! and the SVG show text alike, and the text box is ascent to descent.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::sync::OnceLock;

/// The font every chart's text is drawn with (the one plotters is given for the SVG's layout).
pub static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static F: OnceLock<FontRef<'static>> = OnceLock::new();
    F.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).expect("the embedded DejaVu Sans parses"))
}

/// The scale for plotters' text `size`: an em of `size / 1.24` pixels, the `font-size` its SVG
/// backend writes.
fn scale(size: f64) -> PxScale {
    let f = font();
    let em = f.units_per_em().unwrap_or(2048.0);
    PxScale::from((size / 1.24) as f32 * f.height_unscaled() / em)
}

/// `(width, height)` in pixels of `text` at plotters' `size`: the pen's advance with
/// kerning, and ascent to descent.
pub fn text_box(text: &str, size: f64) -> (f32, f32) {
    let f = font().as_scaled(scale(size));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    (w, f.ascent() - f.descent())
}

/// A backend whose text is drawn by [`text_box`]'s layout; everything else goes to `.0`.
pub struct Glyphs<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for Glyphs<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        p: BackendCoord,
        c: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(p, c)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(a, b, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        c: BackendCoord,
        r: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(c, r, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (w, h) = text_box(text, style.size());
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let sc = scale(style.size());
        let f = font().as_scaled(sc);
        let (w, h) = text_box(text, style.size());
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -h / 2.0,
            VPos::Bottom => -h,
        };
        let turn = style.transform();
        let mut pen = dx;
        let mut prev = None;
        let mut px: Vec<(i32, i32, f32)> = Vec::new();
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                pen += f.kern(p, id);
            }
            let g = id.with_scale_and_position(sc, point(pen, dy + f.ascent()));
            if let Some(o) = font().outline_glyph(g) {
                let b = o.px_bounds();
                o.draw(|x, y, cov| {
                    px.push((b.min.x as i32 + x as i32, b.min.y as i32 + y as i32, cov))
                });
            }
            pen += f.h_advance(id);
            prev = Some(id);
        }
        for (x, y, cov) in px {
            if cov <= 0.0 {
                continue;
            }
            let (x, y) = turn.transform(x, y);
            self.0.draw_pixel(
                (pos.0 + x, pos.1 + y),
                BackendColor {
                    alpha: color.alpha * f64::from(cov.min(1.0)),
                    rgb: color.rgb,
                },
            )?;
        }
        Ok(())
    }
}
