//! A colour anomaly-detection workload from real photographs, offline: each photograph is scaled
//! to a long side of [`PatchOptions::long_side`] and cut into square patches on a grid; every
//! other patch stays as it is (class `normal`), the others get one defect drawn in — a
//! `scratch` (a thin line), a `blot` (a filled spot) or a colour `shift` (a region whose channels
//! are rotated) — in the manner of the MVTec AD benchmark's defect classes. The patches go to one
//! sub-folder per class, ready for `--dataset image-folder`.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{DataError, Result};

/// The classes written, in the order image folders number them (names sorted).
pub const PATCH_CLASSES: [&str; 4] = ["blot", "normal", "scratch", "shift"];

/// How photographs are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOptions {
    /// Side of a square patch, in pixels.
    pub size: u32,
    /// Distance between two patches' corners (less than `size` overlaps them).
    pub stride: u32,
    /// The photographs' longer side after scaling, before cutting.
    pub long_side: u32,
}

impl Default for PatchOptions {
    /// 64x64 patches every 32 pixels of photographs scaled to 512 pixels.
    fn default() -> Self {
        Self {
            size: 64,
            stride: 32,
            long_side: 512,
        }
    }
}

/// How many patches of each class were written, in [`PATCH_CLASSES`] order.
pub type PatchCounts = [usize; 4];

/// The longest [`PatchOptions::long_side`]: 8192 pixels.
pub const MAX_LONG_SIDE: u32 = 8192;
/// The most patches one call writes (files on disk, and the images of a later training run).
pub const MAX_PATCHES: usize = 200_000;

/// The photograph at `path` read and decoded (RGB), as image folders read images (a JPEG cut
/// short refused, the EXIF orientation applied), or an error naming it.
fn read_photo(path: &Path) -> Result<RgbImage> {
    crate::image_folder::read_image(path).map(image::DynamicImage::into_rgb8)
}

/// The width and height of the photograph at `path`, from its header (the file is not read
/// whole: it is decoded later, once).
fn photo_size(path: &Path) -> Result<(u32, u32)> {
    Ok(image::ImageDecoder::dimensions(
        &crate::image_folder::read_header(path)?,
    ))
}

/// The size a photograph of `width` x `height` is cut at, and how many patches it gives.
fn plan(width: u32, height: u32, options: PatchOptions) -> (u32, u32, usize) {
    let scale = options.long_side as f64 / width.max(height).max(1) as f64;
    let (w, h) = (
        ((width as f64 * scale).round() as u32).max(options.size),
        ((height as f64 * scale).round() as u32).max(options.size),
    );
    let along = |side: u32| ((side - options.size) / options.stride + 1) as usize;
    (w, h, along(w) * along(h))
}

/// The file that marks a folder of patches as written by [`write_defect_patches`]: only such a
/// folder is replaced.
pub const PATCHES_MARKER: &str = ".photo-patches";

/// Checks `out` names a folder that is absent, empty, or an earlier output of this function
/// (its marker, and class folders of PNG files only), which the new patches then replace whole.
fn check_output_folder(out: &Path) -> Result<()> {
    if out.file_name().is_none() {
        return Err(DataError::InvalidArgument {
            what: "patch folder",
            message: format!(
                "{} does not name a folder of its own (its patches replace it): name one, e.g. \
                 runs/patches",
                out.display()
            ),
        });
    }
    if out.is_symlink() {
        return Err(DataError::InvalidArgument {
            what: "patch folder",
            message: format!(
                "{} is a link: name the folder it leads to (its patches replace it)",
                out.display()
            ),
        });
    }
    if !out.exists() {
        return Ok(());
    }
    let empty = std::fs::read_dir(out)
        .map_err(|e| DataError::io(out, e))?
        .next()
        .is_none();
    if empty {
        return Ok(());
    }
    if !out.join(PATCHES_MARKER).is_file() {
        return Err(DataError::InvalidArgument {
            what: "patch folder",
            message: format!(
                "{} holds files that photo_patches did not write (no {PATCHES_MARKER}): choose \
                 another --out, or empty it",
                out.display()
            ),
        });
    }
    let not_ours = |path: &Path| DataError::InvalidArgument {
        what: "patch folder",
        message: format!(
            "{} holds {}, which is not an earlier set of patches: choose another --out",
            out.display(),
            path.display()
        ),
    };
    // The marker is hidden: the folder's other entries are what it must hold.
    for class in ae_io::read_dir(out, None)? {
        let name = class.file_name().and_then(|n| n.to_str());
        if !name.is_some_and(|n| PATCH_CLASSES.contains(&n)) || !class.is_dir() {
            return Err(not_ours(&class));
        }
        for file in ae_io::read_dir(&class, None)? {
            if file.extension().and_then(|e| e.to_str()) != Some("png") || !file.is_file() {
                return Err(not_ours(&file));
            }
        }
    }
    Ok(())
}

/// Cuts every photograph of `photos` into patches under `out/<class>/`, defects drawn with a
/// generator seeded by `seed` (the same files for the same inputs).
///
/// Every photograph is read and the patches counted before anything is written; the patches go
/// to a folder beside `out` that then takes its place, so `out` holds this call's patches and
/// only them (an earlier set is replaced whole; a folder holding anything else is refused).
///
/// # Errors
/// When a photograph cannot be read or decoded, two have the same name, the options leave no
/// patch or more than [`MAX_PATCHES`], `out` holds other files, or a patch cannot be written.
pub fn write_defect_patches(
    photos: &[PathBuf],
    out: &Path,
    options: PatchOptions,
    seed: u64,
) -> Result<PatchCounts> {
    if options.size < 8
        || options.stride == 0
        || options.long_side < options.size
        || options.long_side > MAX_LONG_SIDE
    {
        return Err(DataError::InvalidArgument {
            what: "patch options",
            message: format!(
                "--size {} --stride {} --long-side {}: patches of at least 8 pixels, a stride \
                 of at least 1, and a long side from --size to {MAX_LONG_SIDE} pixels",
                options.size, options.stride, options.long_side
            ),
        });
    }
    if photos.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "photographs",
            message: "no patch was cut: name one or more photographs".into(),
        });
    }
    let stem = |photo: &PathBuf| {
        photo
            .file_stem()
            .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned())
    };
    let stems: Vec<String> = photos.iter().map(stem).collect();
    if let Some((i, name)) = stems
        .iter()
        .enumerate()
        .find(|(i, name)| stems[..*i].contains(name))
    {
        return Err(DataError::InvalidArgument {
            what: "photographs",
            message: format!(
                "{} and {} would both write patches named {name}-*.png: rename one",
                photos[stems.iter().position(|s| s == name).unwrap_or(0)].display(),
                photos[i].display()
            ),
        });
    }
    check_output_folder(out)?;
    // Counted first: a photograph without a readable header or too many patches writes
    // nothing (and a photograph that fails to decode later leaves nothing either).
    let mut planned = 0;
    for photo in photos {
        let (width, height) = photo_size(photo)?;
        planned += plan(width, height, options).2;
    }
    if planned > MAX_PATCHES {
        return Err(DataError::TooLargeToPlan {
            what: "the patches",
            plan: format!(
                "{} photographs cut as {options:?} give {planned} patches",
                photos.len()
            ),
            remedy: format!(
                "at most {MAX_PATCHES}: use a larger --stride or --size, or a smaller --long-side"
            ),
        });
    }
    // Beside `out` (not inside it: `--out runs/patches/` names the same folder), hidden.
    let beside = |what: &str| {
        let name = out.file_name().unwrap_or_default().to_string_lossy();
        out.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
    };
    let staging = beside("partial");
    let written = cut_into(photos, &stems, &staging, options, seed).and_then(|counts| {
        crate::idx::write_atomic(
            &staging.join(PATCHES_MARKER),
            b"patches written by photo_patches (write_defect_patches); the next run replaces them\n",
        )?;
        Ok(counts)
    });
    let counts = match written {
        Ok(counts) => counts,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    // The earlier set moves aside first, and goes only once the new one has taken its place.
    let earlier = beside("earlier");
    let replaced = out.exists();
    if replaced {
        std::fs::rename(out, &earlier).map_err(|e| DataError::io(out, e))?;
    }
    if let Err(e) = std::fs::rename(&staging, out) {
        if replaced {
            let _ = std::fs::rename(&earlier, out);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(DataError::io(out, e));
    }
    if replaced {
        let _ = std::fs::remove_dir_all(&earlier);
    }
    Ok(counts)
}

/// Cuts the `photos` (named `stems`) into patches under `out/<class>/`.
fn cut_into(
    photos: &[PathBuf],
    stems: &[String],
    out: &Path,
    options: PatchOptions,
    seed: u64,
) -> Result<PatchCounts> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts = [0usize; 4];
    for (photo, stem) in photos.iter().zip(stems) {
        let image = read_photo(photo)?;
        let (w, h, _) = plan(image.width(), image.height(), options);
        let image = image::imageops::resize(&image, w, h, FilterType::Triangle);
        let mut k = 0usize;
        for y in (0..=h - options.size).step_by(options.stride as usize) {
            for x in (0..=w - options.size).step_by(options.stride as usize) {
                let mut patch =
                    image::imageops::crop_imm(&image, x, y, options.size, options.size).to_image();
                let class = if k.is_multiple_of(2) {
                    1
                } else {
                    let class = [0, 2, 3][(k / 2) % 3];
                    draw_defect(&mut patch, class, &mut rng);
                    class
                };
                let path = out
                    .join(PATCH_CLASSES[class])
                    .join(format!("{stem}-{k:04}.png"));
                let mut png = Vec::new();
                patch
                    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .map_err(|source| DataError::Image {
                        path: path.clone(),
                        source,
                    })?;
                crate::idx::write_atomic(&path, &png)?;
                counts[class] += 1;
                k += 1;
            }
        }
    }
    Ok(counts)
}

/// Draws the defect of `class` (an index into [`PATCH_CLASSES`]) into `patch`.
fn draw_defect(patch: &mut RgbImage, class: usize, rng: &mut StdRng) {
    let side = patch.width() as i64;
    match PATCH_CLASSES[class] {
        "scratch" => {
            // A line two pixels wide between two points near opposite edges, light or dark.
            let shade = if rng.random::<bool>() { 235 } else { 20 };
            let (x0, y0) = (rng.random_range(0..side / 4), rng.random_range(0..side));
            let (x1, y1) = (
                rng.random_range(3 * side / 4..side),
                rng.random_range(0..side),
            );
            let steps = 2 * side;
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let x = x0 as f64 + t * (x1 - x0) as f64;
                let y = y0 as f64 + t * (y1 - y0) as f64;
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    put(patch, x as i64 + dx, y as i64 + dy, Rgb([shade; 3]));
                }
            }
        }
        "blot" => {
            // A filled ellipse of one colour.
            let colour = Rgb([
                rng.random_range(0..80),
                rng.random_range(0..80),
                rng.random_range(0..80),
            ]);
            let (cx, cy) = (
                rng.random_range(side / 4..3 * side / 4),
                rng.random_range(side / 4..3 * side / 4),
            );
            let (rx, ry) = (
                rng.random_range(side / 16..side / 6).max(2),
                rng.random_range(side / 16..side / 6).max(2),
            );
            for y in cy - ry..=cy + ry {
                for x in cx - rx..=cx + rx {
                    let (u, v) = ((x - cx) as f64 / rx as f64, (y - cy) as f64 / ry as f64);
                    if u * u + v * v <= 1.0 {
                        put(patch, x, y, colour);
                    }
                }
            }
        }
        _ => {
            // A rectangle a quarter to a half of the patch across, its channels rotated.
            let (w, h) = (
                rng.random_range(side / 4..side / 2),
                rng.random_range(side / 4..side / 2),
            );
            let (x0, y0) = (rng.random_range(0..side - w), rng.random_range(0..side - h));
            for y in y0..y0 + h {
                for x in x0..x0 + w {
                    let Rgb([r, g, b]) = *patch.get_pixel(x as u32, y as u32);
                    put(patch, x, y, Rgb([b, r, g]));
                }
            }
        }
    }
}

fn put(patch: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if (0..patch.width() as i64).contains(&x) && (0..patch.height() as i64).contains(&y) {
        patch.put_pixel(x as u32, y as u32, colour);
    }
}

#[cfg(test)]
mod tests;
