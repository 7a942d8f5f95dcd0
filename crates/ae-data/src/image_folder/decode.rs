//! One image file read and decoded as a viewer shows it (EXIF orientation), JPEGs cut short
//! refused, headers read without decoding.

use std::path::Path;

use image::imageops::FilterType;

use super::{ColorMode, ImageFolderOptions};
use crate::error::{DataError, Result};

/// The largest image file read (1 GiB): more than any image the decoder may allocate takes.
const MAX_IMAGE_FILE_BYTES: u64 = 1 << 30;

/// The decoder of the image at `path`, its header read and nothing decoded yet: its colour
/// type and dimensions, without reading the whole file.
pub(crate) fn read_header(path: &Path) -> Result<impl image::ImageDecoder> {
    ae_io::check_file(path, ae_io::Limit::data())?;
    image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .into_decoder()
        .map_err(|source| DataError::Image {
            path: path.to_path_buf(),
            source,
        })
}

/// The colour an image's header declares.
pub(super) fn header_color(path: &Path) -> Result<ColorMode> {
    Ok(
        if image::ImageDecoder::color_type(&read_header(path)?).has_color() {
            ColorMode::Rgb
        } else {
            ColorMode::Grayscale
        },
    )
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
pub(super) fn is_cut_short_jpeg(bytes: &[u8]) -> bool {
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
