//! Pictures of results: labelled grids of images as PNG files, and PNG encoding.

use std::path::Path;

use image::{GrayImage, RgbImage};

use ae_data::ImageShape;

use crate::error::{Result, TrainError};

/// Pixels between tiles of a grid.
const GAP: u32 = 2;

fn to_byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Draws rows of images (each `[C, H, W]` in `[0, 1]`, flattened) as one PNG, every tile scaled
/// up `scale` times (nearest neighbour) and separated by a gray gap, each row with its label
/// (`labels[i]` names row `i`: "input", "reconstruction", "sample", ...) in a margin on the
/// left (none when every label is empty). Rows may differ in length.
///
/// # Errors
/// When a row's length is not a whole number of images, the labels are not one per row, or the
/// file cannot be written.
pub fn save_image_grid(
    path: &Path,
    rows: &[&[f32]],
    labels: &[&str],
    shape: ImageShape,
    scale: u32,
) -> Result<()> {
    let n = shape.numel();
    if let Some(bad) = rows.iter().find(|r| r.len() % n != 0) {
        return Err(TrainError::InvalidArgument {
            what: "image grid row",
            message: format!("{} values are not whole {shape} images", bad.len()),
        });
    }
    if labels.len() != rows.len() {
        return Err(TrainError::InvalidArgument {
            what: "image grid labels",
            message: format!("{} labels for {} rows", labels.len(), rows.len()),
        });
    }
    let scale = scale.max(1);
    let cols = rows.iter().map(|r| r.len() / n).max().unwrap_or(0) as u32;
    let (th, tw) = (shape.height as u32 * scale, shape.width as u32 * scale);
    // The label margin: about 8 pixels a character at the 14-pixel font, and a little air.
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let margin = if longest == 0 { 0 } else { 12 + 8 * longest };
    let font = 14.min(th.max(10)) as i32;
    let width = margin + cols * (tw + GAP) + GAP;
    let height = rows.len() as u32 * (th + GAP) + GAP;
    let plane = shape.height * shape.width;
    let pixel = |tile: &[f32], i: usize| {
        if shape.channels >= 3 {
            [tile[i], tile[plane + i], tile[2 * plane + i]].map(to_byte)
        } else {
            [to_byte(tile[i]); 3]
        }
    };
    super::plots::render(path, (width, height), "image grid", |root| {
        use plotters::prelude::*;
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let e = |err: plotters::drawing::DrawingAreaErrorKind<_>| err.to_string();
        root.fill(&RGBColor(128, 128, 128)).map_err(e)?;
        if margin > 0 {
            root.draw(&Rectangle::new(
                [(0, 0), (margin as i32, height as i32)],
                WHITE.filled(),
            ))
            .map_err(e)?;
        }
        let style = TextStyle::from((super::plots::FAMILY, font).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (r, (row, label)) in rows.iter().zip(labels).enumerate() {
            let y0 = GAP + r as u32 * (th + GAP);
            if !label.is_empty() {
                root.draw(&Text::new(
                    label.to_string(),
                    (margin as i32 - 6, (y0 + th / 2) as i32),
                    style.clone(),
                ))
                .map_err(e)?;
            }
            for (c, tile) in row.chunks_exact(n).enumerate() {
                let x0 = margin + GAP + c as u32 * (tw + GAP);
                for y in 0..th {
                    for x in 0..tw {
                        let i = (y / scale) as usize * shape.width + (x / scale) as usize;
                        let [red, green, blue] = pixel(tile, i);
                        root.draw_pixel(
                            ((x0 + x) as i32, (y0 + y) as i32),
                            &RGBColor(red, green, blue),
                        )
                        .map_err(e)?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// Writes a PNG through `save` into a temporary file, then renames it into place (creating the
/// folder if needed), so a half-written picture never appears under the final name.
pub(crate) fn write_png(
    path: &Path,
    save: impl FnOnce(&Path) -> image::ImageResult<()>,
) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::write(parent, e))?;
    }
    let tmp = ae_io::temporary_path(path);
    // A picture that cannot be written (a full disk) leaves no temporary file behind.
    let remove_tmp = |error| {
        let _ = std::fs::remove_file(&tmp);
        error
    };
    save(&tmp)
        .map_err(|source| TrainError::Image {
            path: path.to_path_buf(),
            source,
        })
        .map_err(remove_tmp)?;
    std::fs::rename(&tmp, path)
        .map_err(|e| TrainError::write(path, e))
        .map_err(remove_tmp)?;
    ae_io::record_written(path);
    Ok(())
}

/// The PNG encoding of one image given as `[C, H, W]` bytes (grayscale for one channel, RGB for
/// three), as a lossless baseline for compression.
pub fn png_bytes(pixels: &[u8], shape: ImageShape) -> Result<Vec<u8>> {
    let (w, h) = (shape.width as u32, shape.height as u32);
    let invalid = || TrainError::InvalidArgument {
        what: "image",
        message: format!("{} bytes are not one {shape} image", pixels.len()),
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let written = match shape.channels {
        1 => GrayImage::from_raw(w, h, pixels.to_vec())
            .ok_or_else(invalid)?
            .write_to(&mut out, image::ImageFormat::Png),
        3 => {
            let plane = shape.height * shape.width;
            if pixels.len() != 3 * plane {
                return Err(invalid());
            }
            let hwc: Vec<u8> = (0..plane)
                .flat_map(|i| [pixels[i], pixels[plane + i], pixels[2 * plane + i]])
                .collect();
            RgbImage::from_raw(w, h, hwc)
                .ok_or_else(invalid)?
                .write_to(&mut out, image::ImageFormat::Png)
        }
        _ => return Err(invalid()),
    };
    written.map_err(|source| TrainError::Image {
        path: "<memory>".into(),
        source,
    })?;
    Ok(out.into_inner())
}

/// Saves originals and reconstructions as alternating rows of `per_row` images: originals on top,
/// their reconstructions below (the picture of the Keras tutorial).
pub fn save_reconstruction_grid(
    path: &Path,
    originals: &[f32],
    reconstructions: &[f32],
    shape: ImageShape,
    per_row: usize,
) -> Result<()> {
    let chunk = per_row.max(1) * shape.numel();
    let rows: Vec<&[f32]> = originals
        .chunks(chunk)
        .zip(reconstructions.chunks(chunk))
        .flat_map(|(o, r)| [o, r])
        .collect();
    let labels: Vec<&str> = (0..rows.len())
        .map(|i| {
            if i % 2 == 0 {
                "input"
            } else {
                "reconstruction"
            }
        })
        .collect();
    save_image_grid(path, &rows, &labels, shape, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_bytes_decode_back_to_the_pixels() {
        let shape = ImageShape::new(3, 2, 2);
        let pixels: Vec<u8> = (0..12).map(|i| i * 20).collect();
        let png = png_bytes(&pixels, shape).unwrap();
        let img = image::load_from_memory(&png).unwrap().into_rgb8();
        // Planar [C, H, W] in, interleaved pixels out: pixel (0, 0) is (0, 80, 160).
        assert_eq!(img.get_pixel(0, 0).0, [0, 80, 160]);
        assert!(png_bytes(&pixels[..5], shape).is_err());
    }

    #[test]
    fn grid_has_the_expected_size_and_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        let shape = ImageShape::new(1, 2, 3);
        let white = vec![1.0f32; 6];
        let black = vec![0.0f32; 6];
        let row0: Vec<f32> = [white.clone(), black.clone()].concat();
        // Without labels: no margin.
        save_image_grid(&path, &[&row0, &white], &["", ""], shape, 1).unwrap();
        let img = image::open(&path).unwrap().into_luma8();
        // Two columns of width 3 and two rows of height 2, with 2-pixel gaps.
        assert_eq!(img.dimensions(), (2 * (3 + GAP) + GAP, 2 * (2 + GAP) + GAP));
        assert_eq!(img.get_pixel(GAP, GAP)[0], 255);
        assert_eq!(img.get_pixel(GAP + 3 + GAP, GAP)[0], 0);
        assert_eq!(img.get_pixel(0, 0)[0], 128);
        assert!(save_image_grid(&path, &[&[0.0; 5]], &[""], shape, 1).is_err());
        assert!(save_image_grid(&path, &[&white], &["a", "b"], shape, 1).is_err());
    }

    #[test]
    fn labelled_rows_have_their_text_in_a_margin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        let shape = ImageShape::new(1, 28, 28);
        let black = vec![0.0f32; 784 * 3];
        save_image_grid(
            &path,
            &[&black, &black],
            &["input", "reconstruction"],
            shape,
            2,
        )
        .unwrap();
        let img = image::open(&path).unwrap().into_luma8();
        let margin = 12 + 8 * "reconstruction".len() as u32;
        assert_eq!(
            img.dimensions(),
            (margin + 3 * (56 + GAP) + GAP, 2 * (56 + GAP) + GAP)
        );
        // The margin is white but for the text: dark pixels in each row's band.
        for row in 0..2 {
            let band = GAP + row * (56 + GAP)..GAP + row * (56 + GAP) + 56;
            let ink = (0..margin)
                .flat_map(|x| band.clone().map(move |y| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y)[0] < 100)
                .count();
            assert!(ink > 30, "row {row}: {ink} dark pixels of text");
        }
        assert_eq!(img.get_pixel(1, 1)[0], 255);
        // The tiles are where they were, after the margin.
        assert_eq!(img.get_pixel(margin + GAP + 5, GAP + 5)[0], 0);
    }
}
