//! One image and its shape.

use serde::{Deserialize, Serialize};

/// A pixel's 8-bit value as the intensity in `[0, 1]` every tensor of images holds.
#[inline]
pub(crate) fn intensity(pixel: u8) -> f32 {
    f32::from(pixel) / 255.0
}

/// The shape of one image: channels, height, width (the `[C, H, W]` of a `[N, C, H, W]` batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    /// Colour channels: 1 for grayscale, 3 for RGB.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// A shape from channels, height and width.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// The 28x28 grayscale shape of MNIST and Fashion-MNIST.
    pub const MNIST: Self = Self::new(1, 28, 28);

    /// Values per image (`C * H * W`).
    pub const fn numel(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// `[C, H, W]`.
    pub const fn dims(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// One image of a dataset: its pixels as bytes in `[C, H, W]` order, and its label if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageItem {
    /// The image's shape.
    pub shape: ImageShape,
    /// `shape.numel()` bytes, channel-major then row-major (0 = black, 255 = white).
    pub pixels: Vec<u8>,
    /// The class index, when the dataset is labelled.
    pub label: Option<u32>,
}
