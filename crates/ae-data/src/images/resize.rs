//! Another size and colour for a dataset's images: MNIST at 32x32 for a deeper convolutional
//! model, grayscale digits as RGB beside colour images, a folder read at one size used at another.

use image::imageops::FilterType;
use image::{GrayImage, RgbImage};
use rayon::prelude::*;

use super::dataset::ImageDataset;
use super::item::ImageShape;
use crate::error::{DataError, Result};
use crate::image_folder::ColorMode;

/// The most values (pixels times channels) one image of a dataset may have: a model here takes
/// at most as many inputs (`ae_models::limits::MAX_INPUT_VALUES`).
pub(crate) const MAX_PIXELS: usize = 1 << 24;
/// The most bytes an image dataset may take (16 GiB).
const MAX_DATASET_BYTES: usize = 1 << 34;

/// The bytes of `count` images of `shape`, refused past [`MAX_DATASET_BYTES`] with the sizes,
/// `what` would be allocated and the `remedy`: checked before anything is allocated.
pub(crate) fn dataset_bytes(
    count: usize,
    shape: ImageShape,
    what: &'static str,
    remedy: &str,
) -> Result<usize> {
    let bytes = count.saturating_mul(shape.numel());
    if bytes > MAX_DATASET_BYTES {
        return Err(DataError::TooLargeToPlan {
            what,
            plan: format!(
                "{count} images of {shape} would need {:.1} GB",
                bytes as f64 / 1e9
            ),
            remedy: remedy.into(),
        });
    }
    Ok(bytes)
}

impl ImageDataset {
    /// The images at `height` x `width` (bilinear resampling, as image folders are read) in
    /// `color`: gray to RGB repeats the channel, RGB to gray takes the luma (BT.709 weights, as
    /// the `image` crate computes it and as image folders are read). The labels and class names are kept; a dataset already of
    /// that shape is returned as it is.
    ///
    /// # Errors
    /// When the size has no pixels or more than 2^24 of them, or the dataset would exceed
    /// memory that no image dataset of this crate takes (2^34 bytes).
    pub fn resized(&self, height: usize, width: usize, color: ColorMode) -> Result<Self> {
        let from = self.shape();
        let to = ImageShape::new(color.channels(), height, width);
        if to == from {
            return Ok(self.clone());
        }
        if height == 0 || width == 0 || height * width * to.channels > MAX_PIXELS {
            return Err(DataError::InvalidArgument {
                what: "image size",
                message: format!("{height}x{width} must have from 1 to 2^24 pixels"),
            });
        }
        dataset_bytes(
            self.count(),
            to,
            "the resized dataset",
            "use a smaller --image-size or --limit",
        )?;
        let pixels: Vec<u8> = (0..self.count())
            .into_par_iter()
            .flat_map_iter(|i| {
                let image = self.image(i).unwrap_or_default();
                convert(image, from, to)
            })
            .collect();
        let labels = self.labels().map(<[u32]>::to_vec);
        ImageDataset::new(self.name(), to, pixels, labels, self.class_names().to_vec())
    }
}

/// One image from `[C, H, W]` bytes of `from` to those of `to`.
fn convert(image: &[u8], from: ImageShape, to: ImageShape) -> Vec<u8> {
    let (w, h) = (to.width as u32, to.height as u32);
    let plane = from.height * from.width;
    if from.channels >= 3 {
        let hwc: Vec<u8> = (0..plane)
            .flat_map(|i| [image[i], image[plane + i], image[2 * plane + i]])
            .collect();
        let rgb = RgbImage::from_raw(from.width as u32, from.height as u32, hwc)
            .unwrap_or_else(|| RgbImage::new(from.width as u32, from.height as u32));
        let rgb = if (from.width, from.height) == (to.width, to.height) {
            rgb
        } else {
            image::imageops::resize(&rgb, w, h, FilterType::Triangle)
        };
        if to.channels == 1 {
            return image::DynamicImage::ImageRgb8(rgb).into_luma8().into_raw();
        }
        return planar(&rgb.into_raw(), to);
    }
    let gray = GrayImage::from_raw(
        from.width as u32,
        from.height as u32,
        image[..plane].to_vec(),
    )
    .unwrap_or_else(|| GrayImage::new(from.width as u32, from.height as u32));
    let gray = if (from.width, from.height) == (to.width, to.height) {
        gray
    } else {
        image::imageops::resize(&gray, w, h, FilterType::Triangle)
    };
    let values = gray.into_raw();
    if to.channels == 1 {
        values
    } else {
        values.repeat(3)
    }
}

/// Interleaved RGB (HWC) bytes to planar (CHW), the layout of a `[N, C, H, W]` tensor.
fn planar(hwc: &[u8], to: ImageShape) -> Vec<u8> {
    let plane = to.height * to.width;
    let mut chw = vec![0u8; 3 * plane];
    for (i, px) in hwc.chunks_exact(3).enumerate() {
        for c in 0..3 {
            chw[c * plane + i] = px[c];
        }
    }
    chw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(shape: ImageShape, pixels: Vec<u8>) -> ImageDataset {
        let n = pixels.len() / shape.numel();
        ImageDataset::new(
            "t",
            shape,
            pixels,
            Some(vec![1; n]),
            vec!["a".into(), "b".into()],
        )
        .unwrap()
    }

    #[test]
    fn gray_to_rgb_repeats_the_channel_and_keeps_labels() {
        let data = dataset(ImageShape::new(1, 2, 2), vec![0, 50, 100, 250]);
        let rgb = data.resized(2, 2, ColorMode::Rgb).unwrap();
        assert_eq!(rgb.shape(), ImageShape::new(3, 2, 2));
        assert_eq!(rgb.pixels(), [0, 50, 100, 250].repeat(3).as_slice());
        assert_eq!(rgb.labels(), Some(&[1u32][..]));
        assert_eq!(rgb.class_names(), data.class_names());
    }

    #[test]
    fn rgb_to_gray_takes_the_luma_and_sizes_change() {
        // One 2x2 image, planar: red everywhere.
        let data = dataset(
            ImageShape::new(3, 2, 2),
            [[255u8; 4], [0; 4], [0; 4]].concat(),
        );
        let gray = data.resized(2, 2, ColorMode::Grayscale).unwrap();
        assert_eq!(gray.shape(), ImageShape::new(1, 2, 2));
        // The luma of pure red, with the `image` crate's (BT.709) weights: 0.2126 * 255 = 54.2.
        assert!(
            gray.pixels().iter().all(|&v| (53..=55).contains(&v)),
            "{:?}",
            gray.pixels()
        );
        // A uniform image stays uniform at any size, in any colour.
        let big = data.resized(6, 4, ColorMode::Rgb).unwrap();
        assert_eq!(big.shape(), ImageShape::new(3, 6, 4));
        assert!(big.pixels()[..24].iter().all(|&v| v == 255));
        assert!(big.pixels()[24..].iter().all(|&v| v == 0));
        assert!(data.resized(0, 4, ColorMode::Rgb).is_err());
        assert!(data.resized(1 << 13, 1 << 13, ColorMode::Rgb).is_err());
    }
}
