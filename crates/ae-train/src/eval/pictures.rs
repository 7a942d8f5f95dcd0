//! Pictures of results: grids of images as PNG files (through the `image` crate).

use std::path::Path;

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};

use ae_data::ImageShape;

use crate::error::{Result, TrainError};

/// Pixels between tiles of a grid.
const GAP: u32 = 2;

fn to_byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Draws rows of images (each `[C, H, W]` in `[0, 1]`, flattened) as one PNG, every tile scaled
/// up `scale` times (nearest neighbour) and separated by a gray gap. Rows may differ in length.
///
/// # Errors
/// When a row's length is not a whole number of images, or the file cannot be written.
pub fn save_image_grid(path: &Path, rows: &[&[f32]], shape: ImageShape, scale: u32) -> Result<()> {
    let n = shape.numel();
    if let Some(bad) = rows.iter().find(|r| r.len() % n != 0) {
        return Err(TrainError::InvalidArgument {
            what: "image grid row",
            message: format!("{} values are not whole {shape} images", bad.len()),
        });
    }
    let scale = scale.max(1);
    let cols = rows.iter().map(|r| r.len() / n).max().unwrap_or(0) as u32;
    let (th, tw) = (shape.height as u32 * scale, shape.width as u32 * scale);
    let width = cols * (tw + GAP) + GAP;
    let height = rows.len() as u32 * (th + GAP) + GAP;
    let mut canvas: RgbImage = ImageBuffer::from_pixel(width, height, Rgb([128, 128, 128]));
    let plane = shape.height * shape.width;
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.chunks_exact(n).enumerate() {
            let (x0, y0) = (GAP + c as u32 * (tw + GAP), GAP + r as u32 * (th + GAP));
            for y in 0..th {
                for x in 0..tw {
                    let i = (y / scale) as usize * shape.width + (x / scale) as usize;
                    let px = if shape.channels >= 3 {
                        Rgb([tile[i], tile[plane + i], tile[2 * plane + i]].map(to_byte))
                    } else {
                        let v = to_byte(tile[i]);
                        Rgb([v, v, v])
                    };
                    canvas.put_pixel(x0 + x, y0 + y, px);
                }
            }
        }
    }
    write_png(path, |tmp| {
        if shape.channels >= 3 {
            canvas.save_with_format(tmp, image::ImageFormat::Png)
        } else {
            let gray: GrayImage =
                ImageBuffer::from_fn(width, height, |x, y| Luma([canvas.get_pixel(x, y)[0]]));
            gray.save_with_format(tmp, image::ImageFormat::Png)
        }
    })
}

/// Writes a PNG through `save` into a temporary file, then renames it into place (creating the
/// folder if needed), so a half-written picture never appears under the final name.
fn write_png(path: &Path, save: impl FnOnce(&Path) -> image::ImageResult<()>) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
    }
    let tmp = ae_io::temporary_path(path);
    save(&tmp).map_err(|source| TrainError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))?;
    ae_io::record_written(path);
    Ok(())
}

/// Matplotlib's "tab10" palette: the colour of class `k` is `TAB10[k % 10]`.
pub const TAB10: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Draws 2-D points coloured by class, one square panel per `(points, labels)` pair side by side
/// (each scaled to its own 1st–99th percentile box), with a row of colour swatches in class order
/// (class 0 first) under the panels. `points` holds `x, y` pairs.
pub fn save_scatter_panels(path: &Path, panels: &[(&[f32], &[u32])], side: u32) -> Result<()> {
    let legend = 14;
    let width = panels.len() as u32 * (side + GAP) + GAP;
    let height = side + 2 * GAP + legend;
    let mut canvas: RgbImage = ImageBuffer::from_pixel(width, height, Rgb([255, 255, 255]));
    for (p, (points, labels)) in panels.iter().enumerate() {
        if points.len() != 2 * labels.len() {
            return Err(TrainError::InvalidArgument {
                what: "scatter points",
                message: format!("{} values for {} labels", points.len(), labels.len()),
            });
        }
        let range = |axis: usize| {
            let mut v: Vec<f32> = points.iter().skip(axis).step_by(2).copied().collect();
            v.sort_by(f32::total_cmp);
            let at = |q: f64| v[((v.len().saturating_sub(1)) as f64 * q) as usize];
            if v.is_empty() {
                (0.0, 1.0)
            } else {
                (at(0.01), at(0.99))
            }
        };
        let ((x0, x1), (y0, y1)) = (range(0), range(1));
        let x_off = GAP + p as u32 * (side + GAP);
        // Panel frame.
        for i in 0..side {
            for (x, y) in [(i, 0), (i, side - 1), (0, i), (side - 1, i)] {
                canvas.put_pixel(x_off + x, GAP + y, Rgb([200, 200, 200]));
            }
        }
        for (xy, &label) in points.chunks_exact(2).zip(labels.iter()) {
            let fx = (xy[0] - x0) / (x1 - x0).max(f32::MIN_POSITIVE);
            let fy = (xy[1] - y0) / (y1 - y0).max(f32::MIN_POSITIVE);
            if !(0.0..=1.0).contains(&fx) || !(0.0..=1.0).contains(&fy) {
                continue;
            }
            let px = x_off + 1 + (fx * (side - 4) as f32) as u32;
            let py = GAP + 1 + ((1.0 - fy) * (side - 4) as f32) as u32;
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                canvas.put_pixel(px + dx, py + dy, Rgb(TAB10[label as usize % 10]));
            }
        }
    }
    for (k, colour) in TAB10.iter().enumerate() {
        for y in 0..legend - 4 {
            for x in 0..legend - 4 {
                canvas.put_pixel(
                    GAP + k as u32 * legend + x,
                    side + 2 * GAP + y,
                    Rgb(*colour),
                );
            }
        }
    }
    write_png(path, |tmp| {
        canvas.save_with_format(tmp, image::ImageFormat::Png)
    })
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
    save_image_grid(path, &rows, shape, 2)
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
        save_image_grid(&path, &[&row0, &white], shape, 1).unwrap();
        let img = image::open(&path).unwrap().into_luma8();
        // Two columns of width 3 and two rows of height 2, with 2-pixel gaps.
        assert_eq!(img.dimensions(), (2 * (3 + GAP) + GAP, 2 * (2 + GAP) + GAP));
        assert_eq!(img.get_pixel(GAP, GAP)[0], 255);
        assert_eq!(img.get_pixel(GAP + 3 + GAP, GAP)[0], 0);
        assert_eq!(img.get_pixel(0, 0)[0], 128);
        assert!(save_image_grid(&path, &[&[0.0; 5]], shape, 1).is_err());
    }
}
