//! A grid of small images (data samples, triggers) as one PNG: pictures
//! of data, so there is no chart and no CSV behind them.

use super::super::FigureContent;
use anyhow::{Result, anyhow};

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
    if images.is_empty() || cols == 0 || scale == 0 || !(channels == 1 || channels == 3) {
        crate::user_bail!("image_grid: needs at least one image, cols > 0, scale > 0 and 1 or 3 channels");
    }
    if let Some(i) = images.iter().position(|im| im.len() != height * width * channels) {
        crate::user_bail!("image_grid: image {i} has {} values, expected {height}x{width}x{channels}", images[i].len());
    }
    let gap = 2;
    let rows = images.len().div_ceil(cols);
    let (cell_h, cell_w) = (height * scale + gap, width * scale + gap);
    let (h, w) = (rows * cell_h + gap, cols * cell_w + gap);
    let mut canvas = image::RgbImage::from_pixel(w as u32, h as u32, image::Rgb([255, 255, 255]));
    for (k, img) in images.iter().enumerate() {
        let (oy, ox) = ((k / cols) * cell_h + gap, (k % cols) * cell_w + gap);
        for y in 0..height * scale {
            for x in 0..width * scale {
                let base = ((y / scale) * width + x / scale) * channels;
                let px = |c: usize| (img[base + c.min(channels - 1)].clamp(0.0, 1.0) * 255.0).round() as u8;
                canvas.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb([px(0), px(1), px(2)]));
            }
        }
    }
    let mut png = Vec::new();
    canvas
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| anyhow!("PNG encoding failed: {e}"))?;
    Ok(FigureContent::Png(png))
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
}
