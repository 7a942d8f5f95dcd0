//! A folder of PNG/JPEG/BMP images as an [`ImageDataset`], decoded with the `image` crate.

use std::fs;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::{ImageDataset, ImageShape};

/// The file extensions read (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

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
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
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

/// The colour of the first image in `dir`'s class folders (in name order; the first at its top
/// level when it has none, as an unlabelled folder is read), read from its header:
/// [`ColorMode::Rgb`] for colour images (and those with alpha), else grayscale. The default of
/// `--color` for image folders.
///
/// # Errors
/// When the folder holds no image, or the first one's header cannot be read.
pub fn detect_color(dir: &Path) -> Result<ColorMode> {
    let mut images = Vec::new();
    collect_images(dir, &mut ae_io::Visited::new(), &mut images)?;
    // A labelled folder's loader reads the class folders only.
    let first = images
        .iter()
        .find(|image| image.parent() != Some(dir))
        .or(images.first())
        .ok_or_else(|| DataError::EmptyImageFolder {
            dir: dir.to_path_buf(),
        })?;
    ae_io::check_file(first, ae_io::Limit::data())?;
    let image_error = |source| DataError::Image {
        path: first.clone(),
        source,
    };
    let color = image::ImageReader::open(first)
        .map_err(|e| DataError::io(first, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(first, e))?
        .into_decoder()
        .map_err(image_error)?;
    let color = image::ImageDecoder::color_type(&color);
    Ok(if color.has_color() {
        ColorMode::Rgb
    } else {
        ColorMode::Grayscale
    })
}

/// Decodes one image file to `[C, H, W]` bytes of the requested size and colour.
pub fn decode_image(path: &Path, options: &ImageFolderOptions) -> Result<Vec<u8>> {
    let image_error = |source| DataError::Image {
        path: path.to_path_buf(),
        source,
    };
    let bytes = ae_io::read(path, ae_io::Limit::data())?;
    if bytes.is_empty() {
        return Err(DataError::InvalidArgument {
            what: "image",
            message: format!(
                "{} is empty (0 bytes): remove it, or write the image again",
                path.display()
            ),
        });
    }
    let reader = |bytes: &[u8]| {
        image::ImageReader::new(std::io::Cursor::new(bytes.to_vec()))
            .with_guessed_format()
            .map_err(|e| DataError::io(path, e))
    };
    let image = match reader(&bytes)?.decode() {
        Ok(image) => image,
        // The decoder's own allocation limit: say how large the image is.
        Err(image::ImageError::Limits(limit)) => {
            let size = reader(&bytes)?
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

/// Reads every image under `dir`.
///
/// # Errors
/// When the folder cannot be listed, holds no images, or (with [`OnBadImage::Fail`]) an image
/// cannot be decoded: the error names the file.
pub fn load_image_folder(dir: &Path, options: &ImageFolderOptions) -> Result<ImageFolder> {
    if options.height == 0 || options.width == 0 {
        return Err(DataError::InvalidArgument {
            what: "image size",
            message: format!("{}x{} has no pixels", options.height, options.width),
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
        for sub in subfolders {
            let mut images = Vec::new();
            collect_images(&sub, &mut visited, &mut images)?;
            if images.is_empty() {
                continue;
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
            let mut loose = 0;
            for entry in ae_io::read_dir(dir, None)? {
                if is_image(&entry) && !is_folder(&entry)? {
                    loose += 1;
                }
            }
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
    let shape = ImageShape::new(
        options.color.channels(),
        options.height as usize,
        options.width as usize,
    );
    let mut pixels = Vec::with_capacity(files.len() * shape.numel());
    let mut labels = Vec::with_capacity(files.len());
    let mut kept = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    for (path, label) in files {
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
    let name = format!(
        "folder:{}",
        dir.file_name().unwrap_or_default().to_string_lossy()
    );
    let labels = options.labels_from_subfolders.then_some(labels);
    let dataset = ImageDataset::new(name, shape, pixels, labels, class_names)?;
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
