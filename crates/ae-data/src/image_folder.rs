//! A folder of PNG/JPEG/BMP images as an [`ImageDataset`], decoded with the `image` crate.

use std::fs;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::images::{MAX_DATASET_BYTES, MAX_PIXELS};
use crate::{ImageDataset, ImageShape};

/// The file extensions read (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "jfif", "bmp"];

/// Extensions of images in formats not read here: such a file in an image folder is an error
/// (left out, it would vanish from the data without a word).
const UNREAD_IMAGE_EXTENSIONS: [&str; 12] = [
    "gif", "webp", "tif", "tiff", "heic", "heif", "avif", "svg", "ico", "tga", "ppm", "pgm",
];

/// The largest image file read (1 GiB): more than any image the decoder may allocate takes.
const MAX_IMAGE_FILE_BYTES: u64 = 1 << 30;

/// How colour is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColorMode {
    /// One channel (luma).
    Grayscale,
    /// Three channels.
    Rgb,
}

impl ColorMode {
    /// Channels per pixel.
    pub const fn channels(self) -> usize {
        match self {
            Self::Grayscale => 1,
            Self::Rgb => 3,
        }
    }
}

/// What to do with a file that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OnBadImage {
    /// Stop with an error naming the file.
    #[default]
    Fail,
    /// Leave it out and report it in [`ImageFolder::skipped`].
    Skip,
}

/// How to read an image folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFolderOptions {
    /// Every image is resized to `height x width` (bilinear filter).
    pub height: u32,
    /// See `height`.
    pub width: u32,
    /// Grayscale or RGB.
    pub color: ColorMode,
    /// Each sub-folder of the root is a class, in sorted name order; images directly in the root
    /// are then ignored. When false, every image under the root (recursively) is read, unlabelled.
    pub labels_from_subfolders: bool,
    /// Fail on a bad file, or skip it.
    pub on_bad_image: OnBadImage,
}

impl ImageFolderOptions {
    /// 28x28 grayscale with class sub-folders, failing on bad files.
    pub fn new(height: u32, width: u32, color: ColorMode) -> Self {
        Self {
            height,
            width,
            color,
            labels_from_subfolders: true,
            on_bad_image: OnBadImage::Fail,
        }
    }
}

/// An image folder read into memory.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// The images (and labels when read from class sub-folders).
    pub dataset: ImageDataset,
    /// The files left out under [`OnBadImage::Skip`], with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// The file each image came from, in dataset order.
    pub files: Vec<PathBuf>,
}

fn is_image(path: &Path) -> bool {
    has_extension(path, &IMAGE_EXTENSIONS)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// An image in a format not read here, as an error naming it and what to do.
fn unread_format(path: &Path) -> DataError {
    let format = path
        .extension()
        .map(|e| e.to_string_lossy().to_uppercase())
        .unwrap_or_default();
    DataError::InvalidArgument {
        what: "image folder",
        message: format!(
            "{} is a {format} image, a format not read here (PNG, JPEG and BMP are): convert it \
             (e.g. `convert IN OUT.png`) or move it out of the folder",
            path.display()
        ),
    }
}

/// The images under `dir`, in name order, sub-folders included: hidden entries (`.thumbnails`,
/// `.ipynb_checkpoints`) are left out by rule; an entry that cannot be read is an error, and so is
/// a link back to a folder already walked.
fn collect_images(dir: &Path, visited: &mut ae_io::Visited, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in ae_io::read_dir(dir, Some(visited))? {
        if is_folder(&path)? {
            collect_images(&path, visited, out)?;
        } else if is_image(&path) {
            out.push(path);
        } else if has_extension(&path, &UNREAD_IMAGE_EXTENSIONS) {
            return Err(unread_format(&path));
        }
    }
    Ok(())
}

/// Whether `path` is a folder (links followed); an entry that cannot be examined is an error.
fn is_folder(path: &Path) -> Result<bool> {
    match fs::metadata(path) {
        Ok(metadata) => Ok(metadata.is_dir()),
        Err(e) => Err(DataError::io(path, e)),
    }
}

/// Images whose headers [`detect_color`] reads, at most.
pub const COLOR_SAMPLE: usize = 64;

/// The colour of `dir`'s images, read from the headers of up to [`COLOR_SAMPLE`] of them spread
/// over the folder (its class folders' images, in name order; its own when it has no class
/// folder, as an unlabelled folder is read): [`ColorMode::Rgb`] when any is in colour (or has
/// alpha), else grayscale. The default of `--color` for image folders: a folder of mostly
/// colour photographs whose first image is gray is read in colour.
///
/// # Errors
/// When the folder holds no image, or a header looked at cannot be read.
pub fn detect_color(dir: &Path) -> Result<ColorMode> {
    let mut images = Vec::new();
    collect_images(dir, &mut ae_io::Visited::new(), &mut images)?;
    // A labelled folder's loader reads the class folders only.
    let in_classes: Vec<&PathBuf> = images
        .iter()
        .filter(|image| image.parent() != Some(dir))
        .collect();
    let read = if in_classes.is_empty() {
        images.iter().collect()
    } else {
        in_classes
    };
    if read.is_empty() {
        return Err(DataError::EmptyImageFolder {
            dir: dir.to_path_buf(),
        });
    }
    let step = read.len().div_ceil(COLOR_SAMPLE);
    for image in read.into_iter().step_by(step) {
        if header_color(image)? == ColorMode::Rgb {
            return Ok(ColorMode::Rgb);
        }
    }
    Ok(ColorMode::Grayscale)
}

/// The colour an image's header declares.
fn header_color(path: &Path) -> Result<ColorMode> {
    ae_io::check_file(path, ae_io::Limit::data())?;
    let decoder = image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .into_decoder()
        .map_err(|source| DataError::Image {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(if image::ImageDecoder::color_type(&decoder).has_color() {
        ColorMode::Rgb
    } else {
        ColorMode::Grayscale
    })
}

/// Decodes one image file to `[C, H, W]` bytes of the requested size and colour.
pub fn decode_image(path: &Path, options: &ImageFolderOptions) -> Result<Vec<u8>> {
    let image = read_image(path)?;
    let (w, h) = (options.width, options.height);
    let resized = if image.width() == w && image.height() == h {
        image
    } else {
        image.resize_exact(w, h, FilterType::Triangle)
    };
    Ok(match options.color {
        ColorMode::Grayscale => resized.into_luma8().into_raw(),
        ColorMode::Rgb => {
            // HWC (interleaved) to CHW (planar), the layout of a [N, C, H, W] tensor.
            let hwc = resized.into_rgb8().into_raw();
            let plane = (w * h) as usize;
            let mut chw = vec![0u8; 3 * plane];
            for (i, px) in hwc.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    chw[c * plane + i] = px[c];
                }
            }
            chw
        }
    })
}

/// Reads and decodes one image file as a user's viewer shows it: an empty file, a JPEG cut
/// short and an image larger than the decoder may allocate are errors naming the file and what
/// to do; the EXIF orientation is applied.
pub(crate) fn read_image(path: &Path) -> Result<image::DynamicImage> {
    let image_error = |source| DataError::Image {
        path: path.to_path_buf(),
        source,
    };
    let limit = ae_io::Limit::new(
        MAX_IMAGE_FILE_BYTES.min(ae_io::max_data_bytes()),
        "an image file",
        "make it smaller first (e.g. `convert IN -resize 4096x4096 OUT`)",
    );
    let bytes = ae_io::read(path, limit)?;
    if bytes.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "image",
            message: format!(
                "{} is empty (0 bytes): remove it, or write the image again",
                path.display()
            ),
        });
    }
    if is_cut_short_jpeg(&bytes) {
        return Err(DataError::InvalidArgument {
            what: "image",
            message: format!(
                "{} is cut short: its JPEG data has no end marker (a partial download or \
                 copy?); copy it again, or remove it",
                path.display()
            ),
        });
    }
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes.as_slice()))
            .with_guessed_format()
            .map_err(|e| DataError::io(path, e))
    };
    let decoded = reader()?.into_decoder().and_then(|mut decoder| {
        // Turned as the camera said (EXIF orientation): a phone's portrait photo is stored
        // sideways with a tag, and every viewer shows it upright.
        let orientation = image::ImageDecoder::orientation(&mut decoder)?;
        let mut image = image::DynamicImage::from_decoder(decoder)?;
        image.apply_orientation(orientation);
        Ok(image)
    });
    let image = match decoded {
        Ok(image) => image,
        // The decoder's own allocation limit: say how large the image is.
        Err(image::ImageError::Limits(limit)) => {
            let size = reader()?
                .into_dimensions()
                .map(|(w, h)| format!("{w}x{h} pixels"))
                .unwrap_or_else(|_| "too large".into());
            return Err(DataError::InvalidArgument {
                what: "image",
                message: format!(
                    "{} is {size}, more than the decoder may allocate ({limit}): make it \
                     smaller first (e.g. `convert IN -resize 4096x4096 OUT`)",
                    path.display()
                ),
            });
        }
        Err(error) => return Err(image_error(error)),
    };
    Ok(image)
}

/// Whether `bytes` are a JPEG that ends before its end-of-image marker: a file cut short. (The
/// decoder fills what is missing with gray without a word.) The markers are walked from the
/// start: each segment skipped by its length, each scan's entropy-coded data to the next marker
/// (inside it `FF 00` is a data byte and `FF D0`-`FF D7` restart markers), until `FF D9`. What
/// follows the end marker (a motion photo's video) is not looked at; a file that is not laid
/// out as JPEG markers is left to the decoder.
fn is_cut_short_jpeg(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    loop {
        // A marker: 0xFF (fill bytes allowed), then its code.
        if bytes.get(i) != Some(&0xFF) {
            return i >= bytes.len();
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&code) = bytes.get(i) else {
            return true;
        };
        i += 1;
        match code {
            0xD9 => return false,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(length) = bytes.get(i..i + 2) else {
            return true;
        };
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < 2 {
            return false;
        }
        i += length;
        if code == 0xDA {
            // The scan's data runs to the next marker that is not a data byte or a restart.
            loop {
                match (bytes.get(i), bytes.get(i + 1)) {
                    (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => i += 2,
                    (Some(0xFF), Some(0xFF)) => i += 1,
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => return true,
                }
            }
        }
    }
}

/// The image files under `dir` in the order they are read, each with its class (when read from
/// class sub-folders), and the class names: what [`load_image_folder`] decodes.
struct Listing {
    files: Vec<(PathBuf, Option<u32>)>,
    class_names: Vec<String>,
    shape: ImageShape,
}

/// Lists the images under `dir` and checks what can be checked before decoding any.
fn list_image_folder(dir: &Path, options: &ImageFolderOptions) -> Result<Listing> {
    if options.height == 0 || options.width == 0 {
        return Err(DataError::InvalidArgument {
            what: "image size",
            message: format!("{}x{} has no pixels", options.height, options.width),
        });
    }
    let shape = ImageShape::new(
        options.color.channels(),
        options.height as usize,
        options.width as usize,
    );
    if shape.numel() > MAX_PIXELS {
        return Err(DataError::InvalidArgument {
            what: "image size",
            message: format!(
                "{shape} images hold {} values, more than the {MAX_PIXELS} a model here takes: \
                 use a smaller --image-size",
                shape.numel()
            ),
        });
    }
    let mut files: Vec<(PathBuf, Option<u32>)> = Vec::new();
    let mut class_names = Vec::new();
    let mut visited = ae_io::Visited::new();
    if options.labels_from_subfolders {
        let mut subfolders = Vec::new();
        for entry in ae_io::read_dir(dir, Some(&mut visited))? {
            if is_folder(&entry)? {
                subfolders.push(entry);
            }
        }
        let mut loose = 0;
        for entry in ae_io::read_dir(dir, None)? {
            if has_extension(&entry, &UNREAD_IMAGE_EXTENSIONS) && !is_folder(&entry)? {
                return Err(unread_format(&entry));
            }
            if is_image(&entry) && !is_folder(&entry)? {
                loose += 1;
            }
        }
        if loose > 0 && !subfolders.is_empty() {
            // Left out, they would vanish from the data without a word.
            return Err(DataError::InvalidArgument {
                what: "image folder",
                message: format!(
                    "{} holds {loose} image(s) at its top level beside its class folders; each \
                     image goes in the sub-folder of its class: move them into one",
                    dir.display()
                ),
            });
        }
        for sub in subfolders {
            let mut images = Vec::new();
            collect_images(&sub, &mut visited, &mut images)?;
            if images.is_empty() {
                // Left out, it would shift the index of every class after it.
                return Err(DataError::InvalidArgument {
                    what: "image folder",
                    message: format!(
                        "the class folder {} holds no PNG, JPEG or BMP image: add images, or \
                         move the folder out",
                        sub.display()
                    ),
                });
            }
            let label = class_names.len() as u32;
            class_names.push(
                sub.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
            files.extend(images.into_iter().map(|p| (p, Some(label))));
        }
        if files.is_empty() {
            // Images beside the class folders are not read: say so rather than "no images".
            if loose > 0 {
                return Err(DataError::InvalidArgument {
                    what: "image folder",
                    message: format!(
                        "{0} holds {loose} image(s) at its top level and no class sub-folder \
                         with images; the images of each class go in a sub-folder named after it \
                         (one class: mkdir {0}/all, then move the images into it)",
                        dir.display()
                    ),
                });
            }
        }
    } else {
        let mut images = Vec::new();
        collect_images(dir, &mut visited, &mut images)?;
        files.extend(images.into_iter().map(|p| (p, None)));
    }
    if files.is_empty() {
        return Err(DataError::EmptyImageFolder {
            dir: dir.to_path_buf(),
        });
    }
    Ok(Listing {
        files,
        class_names,
        shape,
    })
}

/// Reads every image under `dir`.
///
/// # Errors
/// When the folder cannot be listed, holds no images, or (with [`OnBadImage::Fail`]) an image
/// cannot be decoded: the error names the file.
pub fn load_image_folder(dir: &Path, options: &ImageFolderOptions) -> Result<ImageFolder> {
    let listing = list_image_folder(dir, options)?;
    decode_files(dir, &folder_name(dir), &listing.files, &listing, options)
}

/// Reads the images of `dir` that a train/test split of it keeps: the folder split as
/// [`ImageDataset::split`] splits it (`test_fraction` held out after a shuffle by `seed`), then
/// the first `limit` images of each part, decoding only those. The same datasets as
/// [`load_image_folder`] then `split` then `take(limit)`, without reading the rest of the folder
/// (a quick try on a folder of 50,000 photographs). Not for [`OnBadImage::Skip`], whose
/// skipped files would change the split: `None` there.
///
/// # Errors
/// As [`load_image_folder`], for the images read; as `split` for a folder of one image.
pub fn load_image_folder_split(
    dir: &Path,
    options: &ImageFolderOptions,
    test_fraction: f64,
    seed: u64,
    limit: usize,
) -> Result<Option<(ImageDataset, ImageDataset)>> {
    if options.on_bad_image == OnBadImage::Skip {
        return Ok(None);
    }
    let listing = list_image_folder(dir, options)?;
    let (test_rows, train_rows) =
        crate::images::split_rows(listing.files.len(), test_fraction, seed).ok_or_else(|| {
            DataError::InvalidArgument {
                what: "validation split",
                message: format!(
                    "{} has {} image(s); a training and a test split need two: give more images",
                    dir.display(),
                    listing.files.len()
                ),
            }
        })?;
    let name = folder_name(dir);
    let part = |rows: &[usize], split: &str| -> Result<ImageDataset> {
        let files: Vec<(PathBuf, Option<u32>)> = rows
            .iter()
            .take(limit)
            .map(|&row| listing.files[row].clone())
            .collect();
        Ok(decode_files(dir, &format!("{name}/{split}"), &files, &listing, options)?.dataset)
    };
    Ok(Some((
        part(&train_rows, "train")?,
        part(&test_rows, "test")?,
    )))
}

/// The dataset name of the folder `dir`: `folder:NAME`.
fn folder_name(dir: &Path) -> String {
    format!(
        "folder:{}",
        dir.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// Decodes `files` (of `listing`) into a dataset named `name`.
fn decode_files(
    dir: &Path,
    name: &str,
    files: &[(PathBuf, Option<u32>)],
    listing: &Listing,
    options: &ImageFolderOptions,
) -> Result<ImageFolder> {
    let shape = listing.shape;
    let bytes = files.len().saturating_mul(shape.numel());
    if bytes > MAX_DATASET_BYTES {
        return Err(DataError::TooLargeToPlan {
            what: "the image folder",
            plan: format!(
                "{} images of {shape} would need {:.1} GB",
                files.len(),
                bytes as f64 / 1e9
            ),
            remedy: "use a smaller --image-size, or fewer images".into(),
        });
    }
    let mut pixels = Vec::with_capacity(bytes);
    let mut labels = Vec::with_capacity(files.len());
    let mut kept = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    for (path, label) in files.iter().cloned() {
        match decode_image(&path, options) {
            Ok(image) => {
                pixels.extend_from_slice(&image);
                labels.push(label.unwrap_or(0));
                kept.push(path);
            }
            Err(err) if options.on_bad_image == OnBadImage::Skip => {
                skipped.push((path, err.to_string()));
            }
            Err(err) => return Err(err),
        }
    }
    if kept.is_empty() {
        return Err(DataError::EmptyImageFolder {
            dir: dir.to_path_buf(),
        });
    }
    let labels = options.labels_from_subfolders.then_some(labels);
    let dataset = ImageDataset::new(name, shape, pixels, labels, listing.class_names.clone())?;
    Ok(ImageFolder {
        dataset,
        skipped,
        files: kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn write_png(path: &Path, w: u32, h: u32, color: [u8; 3]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_pixel(w, h, Rgb(color)).save(path).unwrap();
    }

    #[test]
    fn reads_classes_from_subfolders_resized() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("cats/a.png"), 10, 6, [255, 0, 0]);
        write_png(&dir.path().join("cats/b.PNG"), 3, 3, [255, 0, 0]);
        write_png(&dir.path().join("dogs/c.bmp"), 8, 8, [0, 0, 255]);
        fs::write(dir.path().join("dogs/notes.txt"), "not an image").unwrap();
        let opts = ImageFolderOptions::new(4, 5, ColorMode::Rgb);
        let folder = load_image_folder(dir.path(), &opts).unwrap();
        let ds = &folder.dataset;
        assert_eq!(ds.count(), 3);
        assert_eq!(ds.shape(), ImageShape::new(3, 4, 5));
        assert_eq!(ds.class_names(), &["cats".to_string(), "dogs".to_string()]);
        assert_eq!(ds.labels().unwrap(), &[0, 0, 1]);
        // Planar layout: the red plane of a red image is all 255, its blue plane all 0.
        let red = ds.image(0).unwrap();
        assert!(red[..20].iter().all(|&p| p == 255));
        assert!(red[40..].iter().all(|&p| p == 0));
        let blue = ds.image(2).unwrap();
        assert!(blue[40..].iter().all(|&p| p == 255));
    }

    #[test]
    fn grayscale_without_labels() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("x/y/a.png"), 2, 2, [255, 255, 255]);
        write_png(&dir.path().join("b.png"), 2, 2, [0, 0, 0]);
        let mut opts = ImageFolderOptions::new(2, 2, ColorMode::Grayscale);
        opts.labels_from_subfolders = false;
        let folder = load_image_folder(dir.path(), &opts).unwrap();
        assert_eq!(folder.dataset.count(), 2);
        assert!(folder.dataset.labels().is_none());
        assert_eq!(folder.dataset.pixels(), &[0, 0, 0, 0, 255, 255, 255, 255]);
    }

    #[test]
    fn a_corrupt_file_fails_with_its_path_or_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a/good.png"), 4, 4, [9, 9, 9]);
        fs::write(
            dir.path().join("a/broken.png"),
            b"\x89PNG\r\n\x1a\nnot really",
        )
        .unwrap();
        let mut opts = ImageFolderOptions::new(4, 4, ColorMode::Grayscale);
        let err = load_image_folder(dir.path(), &opts).unwrap_err();
        assert!(matches!(err, DataError::Image { .. }), "{err}");
        assert!(err.to_string().contains("broken.png"));
        opts.on_bad_image = OnBadImage::Skip;
        let folder = load_image_folder(dir.path(), &opts).unwrap();
        assert_eq!(folder.dataset.count(), 1);
        assert_eq!(folder.skipped.len(), 1);
        assert!(folder.skipped[0].0.ends_with("broken.png"));
    }

    /// A JPEG of `w` x `h`, its left half red and its right half blue, with an EXIF
    /// orientation tag when `orientation` is given.
    fn jpeg(w: u32, h: u32, orientation: Option<u16>) -> Vec<u8> {
        // A little texture, so that the scan (not the tables) is most of the file.
        let image = RgbImage::from_fn(w, h, |x, y| {
            let t = ((x * 7 + y * 13) % 32) as u8;
            if x < w / 2 {
                Rgb([255 - t, t, 0])
            } else {
                Rgb([t, 0, 255 - t])
            }
        });
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        if let Some(value) = orientation {
            // APP1 "Exif": a little-endian TIFF header and one IFD entry, Orientation (0x0112),
            // SHORT, one value.
            let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
            tiff.extend(value.to_le_bytes());
            tiff.extend([0, 0, 0, 0, 0, 0]);
            let mut app1 = b"Exif\0\0".to_vec();
            app1.extend(tiff);
            let mut segment = vec![0xFF, 0xE1];
            segment.extend(((app1.len() + 2) as u16).to_be_bytes());
            segment.extend(app1);
            bytes.splice(2..2, segment);
        }
        bytes
    }

    #[test]
    fn a_jpeg_cut_short_is_refused_and_exif_orientation_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ImageFolderOptions::new(16, 8, ColorMode::Rgb);
        // Orientation 6: stored sideways, shown turned 90 degrees clockwise, so the left
        // (red) half of the stored 16x8 image is the top half of the 8x16 one shown.
        let turned = dir.path().join("turned.jpg");
        fs::write(&turned, jpeg(16, 8, Some(6))).unwrap();
        let pixels = decode_image(&turned, &opts).unwrap();
        let plane = 16 * 8;
        let (red_top, red_bottom) = (pixels[8 + 3], pixels[plane - 8 + 3]);
        assert!(red_top > 180 && red_bottom < 80, "{red_top} {red_bottom}");
        let (blue_top, blue_bottom) = (pixels[2 * plane + 3], pixels[3 * plane - 8 + 3]);
        assert!(
            blue_top < 80 && blue_bottom > 180,
            "{blue_top} {blue_bottom}"
        );

        let whole = jpeg(256, 256, None);
        let cut = dir.path().join("cut.jpg");
        fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
        let err = decode_image(&cut, &opts).unwrap_err().to_string();
        assert!(err.contains("cut.jpg is cut short"), "{err}");
        fs::write(&cut, &whole).unwrap();
        assert!(decode_image(&cut, &opts).is_ok());
        // Whole, with data after its end marker (a motion photo's video), start-of-scan bytes
        // among it: read.
        let mut motion = whole.clone();
        motion.extend([0x00, 0xFF, 0xDA, 0x00, 0x08, 0x12, 0xFF, 0xD8, 0x34]);
        fs::write(&cut, &motion).unwrap();
        assert!(decode_image(&cut, &opts).is_ok());
        // Cut inside a header segment, or right after the start of the scan: cut short.
        for end in [20, whole.len() / 2, whole.len() - 2] {
            assert!(is_cut_short_jpeg(&whole[..end]), "cut at {end}");
        }
        assert!(!is_cut_short_jpeg(&whole));
    }

    #[test]
    fn what_would_be_left_out_without_a_word_is_refused() {
        let opts = ImageFolderOptions::new(4, 4, ColorMode::Rgb);
        let refused = |dir: &Path, needle: &str| {
            let err = load_image_folder(dir, &opts).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err}");
        };
        // A class folder with no image read here would shift every class after it.
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a_cats/1.png"), 2, 2, [1, 2, 3]);
        fs::create_dir_all(dir.path().join("b_birds")).unwrap();
        fs::write(dir.path().join("b_birds/1.gif"), b"GIF89a").unwrap();
        write_png(&dir.path().join("c_dogs/1.png"), 2, 2, [1, 2, 3]);
        refused(dir.path(), "1.gif is a GIF image, a format not read here");
        fs::remove_file(dir.path().join("b_birds/1.gif")).unwrap();
        fs::write(dir.path().join("b_birds/notes.txt"), "not an image").unwrap();
        refused(dir.path(), "b_birds holds no PNG, JPEG or BMP image");
        fs::remove_dir_all(dir.path().join("b_birds")).unwrap();
        // Images beside the class folders.
        write_png(&dir.path().join("loose.png"), 2, 2, [1, 2, 3]);
        refused(
            dir.path(),
            "1 image(s) at its top level beside its class folders",
        );
        fs::remove_file(dir.path().join("loose.png")).unwrap();
        // JFIF is JPEG: read.
        fs::write(dir.path().join("c_dogs/2.JFIF"), jpeg(4, 4, None)).unwrap();
        assert_eq!(
            load_image_folder(dir.path(), &opts)
                .unwrap()
                .dataset
                .count(),
            3
        );
        // Sizes a model cannot take are refused before anything is decoded.
        let huge = ImageFolderOptions::new(4096, 4096, ColorMode::Rgb);
        let err = load_image_folder(dir.path(), &huge)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more than the 16777216 a model here takes"),
            "{err}"
        );
    }

    #[test]
    fn a_limited_read_decodes_only_the_images_it_keeps() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..14u8 {
            let class = if i % 2 == 0 { "even" } else { "odd" };
            write_png(
                &dir.path().join(format!("{class}/{i:02}.png")),
                3,
                3,
                [i * 9, 0, 0],
            );
        }
        let opts = ImageFolderOptions::new(3, 3, ColorMode::Rgb);
        // The same datasets as reading everything, splitting and keeping the first images.
        let all = load_image_folder(dir.path(), &opts).unwrap().dataset;
        let (train, test) = all.split(0.2, 5).unwrap();
        let (part_train, part_test) = load_image_folder_split(dir.path(), &opts, 0.2, 5, 4)
            .unwrap()
            .unwrap();
        for (part, whole) in [(&part_train, train.take(4)), (&part_test, test.take(4))] {
            assert_eq!(part.pixels(), whole.pixels());
            assert_eq!(part.labels(), whole.labels());
            assert_eq!(part.class_names(), whole.class_names());
        }
        assert_eq!((part_train.count(), part_test.count()), (4, 3));
        // A broken file the split does not keep is not read. With one more image (15), the rows
        // a limit of 1 keeps are the first of each part; break a file of another row (the
        // listing is class folders in name order, then files in name order).
        write_png(&dir.path().join("odd/99.png"), 3, 3, [1, 1, 1]);
        let (held_out, kept) = crate::images::split_rows(15, 0.2, 5).unwrap();
        let unread = (0..15)
            .find(|r| *r != held_out[0] && *r != kept[0])
            .unwrap();
        let mut listing: Vec<PathBuf> = Vec::new();
        for class in ["even", "odd"] {
            let mut files: Vec<PathBuf> = fs::read_dir(dir.path().join(class))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            listing.extend(files);
        }
        fs::write(&listing[unread], b"\x89PNG\r\n\x1a\nbroken").unwrap();
        assert!(load_image_folder(dir.path(), &opts).is_err());
        assert!(
            load_image_folder_split(dir.path(), &opts, 0.2, 5, 1)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn colour_is_detected_from_more_than_the_first_image() {
        let dir = tempfile::tempdir().unwrap();
        let gray = |path: &Path| {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::GrayImage::from_pixel(2, 2, image::Luma([90]))
                .save(path)
                .unwrap();
        };
        gray(&dir.path().join("a/1.png"));
        gray(&dir.path().join("b/1.png"));
        // An image beside the class folders is not read, so its colour does not count.
        write_png(&dir.path().join("top.png"), 2, 2, [200, 10, 10]);
        assert_eq!(detect_color(dir.path()).unwrap(), ColorMode::Grayscale);
        write_png(&dir.path().join("b/2.png"), 2, 2, [200, 10, 10]);
        assert_eq!(detect_color(dir.path()).unwrap(), ColorMode::Rgb);
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ImageFolderOptions::new(4, 4, ColorMode::Grayscale);
        assert!(matches!(
            load_image_folder(dir.path(), &opts).unwrap_err(),
            DataError::EmptyImageFolder { .. }
        ));
        assert!(load_image_folder(Path::new("/nonexistent/folder"), &opts).is_err());
    }

    #[test]
    fn an_empty_image_file_is_named_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a/good.png"), 2, 2, [1, 2, 3]);
        fs::write(dir.path().join("a/empty.png"), b"").unwrap();
        let opts = ImageFolderOptions::new(2, 2, ColorMode::Grayscale);
        let err = load_image_folder(dir.path(), &opts)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("empty.png") && err.contains("empty (0 bytes)"),
            "{err}"
        );
    }

    #[test]
    fn images_outside_class_folders_are_named_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a.png"), 2, 2, [1, 2, 3]);
        write_png(&dir.path().join("b.png"), 2, 2, [1, 2, 3]);
        fs::create_dir(dir.path().join("empty-class")).unwrap();
        let opts = ImageFolderOptions::new(2, 2, ColorMode::Grayscale);
        let err = load_image_folder(dir.path(), &opts)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 image(s) at its top level") && err.contains("sub-folder"),
            "{err}"
        );
    }
}
