//! A folder of PNG/JPEG/BMP images as an [`ImageDataset`], decoded with the `image` crate.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod decode;

use crate::error::{DataError, Result};
use crate::images::{MAX_PIXELS, dataset_bytes};
use crate::{ImageDataset, ImageShape};

pub use decode::decode_image;
use decode::header_color;
pub(crate) use decode::{read_header, read_image};

/// The file extensions read (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "jfif", "bmp"];

/// Extensions of images in formats not read here: such a file in an image folder is an error
/// (left out, it would vanish from the data without a word).
const UNREAD_IMAGE_EXTENSIONS: [&str; 12] = [
    "gif", "webp", "tif", "tiff", "heic", "heif", "avif", "svg", "ico", "tga", "ppm", "pgm",
];

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
    let bytes = dataset_bytes(
        files.len(),
        shape,
        "the image folder",
        "use a smaller --image-size, or fewer images",
    )?;
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
mod tests;
