//! A grid of small images (data samples, triggers) as one PNG: pictures
//! of data, so there is no chart and no CSV behind them.

use super::super::FigureContent;
use anyhow::{Result, anyhow};

/// Words around an image grid: a title above it, one label left of each
/// row of images and one above each column. Empty strings (or shorter
/// lists) leave that place blank; all empty gives the bare grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GridLabels {
    pub title: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
}

/// Label font size in plotters' units (as the charts' tick labels).
const LABEL_PX: f64 = 15.0;
const TITLE_PX: f64 = 18.0;
const GAP: usize = 2;

/// A grid of images as PNG. Each image is `height * width * channels`
/// values in [0, 1] (channels 1 = grey, 3 = RGB, interleaved), drawn
/// `cols` per row, each pixel scaled up `scale` times, 2-pixel gaps.
pub fn image_grid(
    images: &[Vec<f32>],
    height: usize,
    width: usize,
    channels: usize,
    cols: usize,
    scale: usize,
) -> Result<FigureContent> {
    labelled_image_grid(images, height, width, channels, cols, scale, &GridLabels::default())
}

/// [`image_grid`] with a title, row labels (left) and column labels (top)
/// drawn in the embedded font, so a picture of samples says which row is
/// which class or source without the caption.
pub fn labelled_image_grid(
    images: &[Vec<f32>],
    height: usize,
    width: usize,
    channels: usize,
    cols: usize,
    scale: usize,
    labels: &GridLabels,
) -> Result<FigureContent> {
    if images.is_empty() || cols == 0 || scale == 0 || !(channels == 1 || channels == 3) {
        crate::user_bail!("image_grid: needs at least one image, cols > 0, scale > 0 and 1 or 3 channels");
    }
    if let Some(i) = images.iter().position(|im| im.len() != height * width * channels) {
        crate::user_bail!("image_grid: image {i} has {} values, expected {height}x{width}x{channels}", images[i].len());
    }
    let rows = images.len().div_ceil(cols);
    let (cell_h, cell_w) = (height * scale + GAP, width * scale + GAP);
    let (grid_h, grid_w) = (rows * cell_h + GAP, cols * cell_w + GAP);
    let widest = |texts: &[String], px: f64| texts.iter().map(|t| bitmap_text_width(t, px)).max().unwrap_or(0);
    let left = match widest(&labels.rows, LABEL_PX) {
        0 => 0,
        w => w + 10,
    };
    let col_band = if labels.cols.iter().any(|c| !c.is_empty()) { LABEL_PX as usize + 8 } else { 0 };
    let title_band = if labels.title.is_empty() { 0 } else { TITLE_PX as usize + 12 };
    let top = title_band + col_band;
    let (w, h) = ((left + grid_w).max(widest(std::slice::from_ref(&labels.title), TITLE_PX) + 8), top + grid_h);
    let mut rgb = vec![255u8; w * h * 3];
    for (k, img) in images.iter().enumerate() {
        let (oy, ox) = (top + (k / cols) * cell_h + GAP, left + (k % cols) * cell_w + GAP);
        for y in 0..height * scale {
            for x in 0..width * scale {
                let base = ((y / scale) * width + x / scale) * channels;
                let at = ((oy + y) * w + ox + x) * 3;
                for c in 0..3 {
                    rgb[at + c] = (img[base + c.min(channels - 1)].clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
    if left + top > 0 {
        draw_labels(&mut rgb, (w, h), labels, Layout { left, title_band, top, cell_h, cell_w, rows, cols })?;
    }
    let img =
        image::RgbImage::from_raw(w as u32, h as u32, rgb).ok_or_else(|| anyhow!("PNG buffer of the wrong size"))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| anyhow!("PNG encoding failed: {e}"))?;
    Ok(FigureContent::Png(png))
}

/// Width of `text` as the bitmap backend lays it out (its anchoring uses
/// the same measure, so a right-aligned label fits its band).
fn bitmap_text_width(text: &str, px: f64) -> usize {
    use plotters::prelude::*;
    super::draw::register_fonts();
    let mut pixel = [255u8; 3];
    let area = BitMapBackend::with_buffer(&mut pixel, (1, 1)).into_drawing_area();
    area.estimate_text_size(text, &super::draw::font(px))
        .map_or(text.chars().count() * px as usize, |(w, _)| w as usize)
}

/// Where the grid's cells sit on the canvas, for placing labels.
struct Layout {
    left: usize,
    title_band: usize,
    top: usize,
    cell_h: usize,
    cell_w: usize,
    rows: usize,
    cols: usize,
}

/// Draws the title and the labels over the painted buffer (plotters'
/// bitmap backend draws on what is already there).
fn draw_labels(rgb: &mut [u8], (w, h): (usize, usize), labels: &GridLabels, at: Layout) -> Result<()> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    super::draw::register_fonts();
    let root = BitMapBackend::with_buffer(rgb, (w as u32, h as u32)).into_drawing_area();
    let err = super::draw::err;
    if !labels.title.is_empty() {
        let style = super::draw::font(TITLE_PX).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw_text(&labels.title, &style, (4, (at.title_band / 2) as i32)).map_err(err)?;
    }
    let right = super::draw::font(LABEL_PX).pos(Pos::new(HPos::Right, VPos::Center));
    for (r, text) in labels.rows.iter().take(at.rows).enumerate() {
        let y = at.top + r * at.cell_h + GAP + (at.cell_h - GAP) / 2;
        root.draw_text(text, &right, ((at.left - 6) as i32, y as i32)).map_err(err)?;
    }
    let centre = super::draw::font(LABEL_PX).pos(Pos::new(HPos::Center, VPos::Center));
    for (c, text) in labels.cols.iter().take(at.cols).enumerate() {
        let x = at.left + c * at.cell_w + GAP + (at.cell_w - GAP) / 2;
        root.draw_text(text, &centre, (x as i32, (at.top - LABEL_PX as usize / 2 - 4) as i32)).map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_grid_is_a_png_of_the_right_size() {
        let imgs = vec![vec![0.0; 4], vec![1.0; 4], vec![0.5; 4]];
        let FigureContent::Png(png) = image_grid(&imgs, 2, 2, 1, 2, 3).unwrap() else { panic!() };
        let decoded = image::load_from_memory(&png).unwrap();
        // 2 columns x (2*3 + 2) + 2 = 18 wide; 2 rows -> 18 high
        assert_eq!((decoded.width(), decoded.height()), (18, 18));
        assert!(image_grid(&[vec![0.0; 3]], 2, 2, 1, 1, 1).is_err());
    }

    /// Dark pixels in a region of a decoded grid (text is drawn dark on white).
    fn ink(img: &image::RgbImage, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>) -> usize {
        ys.flat_map(|y| xs.clone().map(move |x| (x, y))).filter(|&(x, y)| img.get_pixel(x, y)[0] < 128).count()
    }

    #[test]
    fn labels_widen_the_grid_and_are_drawn_in_their_bands() {
        // Two white 4x4 images, one column: ink can only come from text.
        let imgs = vec![vec![1.0; 16], vec![1.0; 16]];
        let labels = GridLabels {
            title: "Samples".into(),
            rows: vec!["class 0".into(), "class 1".into()],
            cols: vec!["seed 0".into()],
        };
        let FigureContent::Png(png) = labelled_image_grid(&imgs, 4, 4, 1, 1, 10, &labels).unwrap() else { panic!() };
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        let bare = 4 * 10 + 2 * GAP; // one cell and the outer gaps
        assert!(img.width() as usize > bare + 40, "row labels add a left band: {}", img.width());
        assert!(
            img.height() as usize > 2 * (40 + GAP) + GAP + 30,
            "title and column labels add a top band: {}",
            img.height()
        );
        let left = img.width() - bare as u32;
        let top = img.height() - (2 * (40 + GAP) + GAP) as u32;
        assert!(ink(&img, 0..left, top..img.height()) > 20, "row labels are drawn left of the grid");
        assert!(ink(&img, 0..img.width(), 0..top) > 20, "title and column label are drawn above it");
        assert_eq!(ink(&img, left..img.width(), top..img.height()), 0, "nothing is drawn over the white images");
        // A dark image stays dark under the labels' pass.
        let FigureContent::Png(png) = labelled_image_grid(&[vec![0.0; 16]], 4, 4, 1, 1, 10, &labels).unwrap() else {
            panic!()
        };
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(ink(&img, left + 2..left + 42, top + 2..top + 42), 1600);
    }
}
