//! Strided convolution stacks: the encoder and decoder halves of the convolutional models.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use crate::error::{ModelError, Result};
use crate::limits::{check_input_shape, check_widths};

/// The shared shape settings of a convolutional encoder/decoder pair.
#[derive(Config, Debug)]
pub struct ConvStackConfig {
    /// Shape of one input image, `[channels, height, width]`.
    pub input_shape: [usize; 3],
    /// Channels after each stride-2 convolution of the encoder (the decoder mirrors them). Each
    /// halves the height and width, so both must be divisible by `2^channels.len()`.
    pub channels: Vec<usize>,
    /// Odd kernel size of every convolution (padding `kernel_size / 2`).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Batch normalisation after each hidden convolution.
    #[config(default = false)]
    pub batch_norm: bool,
    /// Activation after each hidden layer.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

impl ConvStackConfig {
    /// Checks shapes: odd kernel, at least one layer, sizes divisible by `2^layers`.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, message: String| Err(ModelError::InvalidConfig { field, message });
        check_input_shape("input_shape", self.input_shape)?;
        let [_, h, w] = self.input_shape;
        if self.channels.is_empty() || self.channels.contains(&0) {
            return invalid(
                "channels",
                format!("{:?} needs one or more non-zero widths", self.channels),
            );
        }
        check_widths("channels", &self.channels)?;
        if self.channels.len() > 30 {
            return invalid(
                "channels",
                format!("{} stride-2 layers are more than 30", self.channels.len()),
            );
        }
        if self.kernel_size > h.max(w) * 2 + 1 || self.kernel_size > 255 {
            return invalid(
                "kernel_size",
                format!("{} is larger than the images", self.kernel_size),
            );
        }
        if self.kernel_size.is_multiple_of(2) {
            return invalid("kernel_size", format!("{} must be odd", self.kernel_size));
        }
        let factor = 1usize << self.channels.len();
        if !h.is_multiple_of(factor) || !w.is_multiple_of(factor) {
            let below = |side: usize| (side / factor * factor).max(factor);
            let above = |side: usize| side.div_ceil(factor) * factor;
            let (smaller, larger) = (
                format!("{}x{}", below(h), below(w)),
                format!("{}x{}", above(h), above(w)),
            );
            let sizes = if smaller == larger {
                smaller
            } else {
                format!("{smaller} or {larger}")
            };
            return invalid(
                "channels",
                format!(
                    "{} stride-2 layers need height and width divisible by {factor}, got {h}x{w}: \
                     resize the images to {sizes} (--image-size), or use fewer layers",
                    self.channels.len(),
                ),
            );
        }
        Ok(())
    }

    /// `[channels, height, width]` of the innermost feature map.
    pub fn feature_shape(&self) -> [usize; 3] {
        let factor = 1usize << self.channels.len();
        let [_, h, w] = self.input_shape;
        [*self.channels.last().unwrap_or(&1), h / factor, w / factor]
    }

    /// Weights and biases of the convolutions of the encoder and the transposed convolutions of
    /// the decoder (batch norm and the dense layers around the code excluded).
    pub fn parameter_count(&self) -> u128 {
        let k = (self.kernel_size as u128).pow(2);
        let mut count = 0u128;
        let mut previous = self.input_shape[0] as u128;
        for &c in &self.channels {
            count += 2 * (previous * c as u128 * k + c as u128);
            previous = c as u128;
        }
        count
    }

    /// Values in the innermost feature map.
    pub fn feature_numel(&self) -> usize {
        self.feature_shape().iter().product()
    }

    /// The encoder: convolutions down to the innermost feature map, flattened.
    pub fn init_encoder(&self, device: &Device) -> ConvEncoder {
        let mut in_channels = self.input_shape[0];
        let blocks = self
            .channels
            .iter()
            .map(|&out| {
                let conv = Conv2dConfig::new([in_channels, out], [self.kernel_size; 2])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(
                        self.kernel_size / 2,
                        self.kernel_size / 2,
                        self.kernel_size / 2,
                        self.kernel_size / 2,
                    ))
                    .init(device);
                in_channels = out;
                ConvBlock {
                    conv,
                    norm: self
                        .batch_norm
                        .then(|| BatchNormConfig::new(out).init(device)),
                }
            })
            .collect();
        ConvEncoder {
            blocks,
            activation: self.activation.init(device),
        }
    }

    /// The decoder: a dense layer from `latent_dim` to the innermost feature map, then transposed
    /// convolutions up to the input's shape, producing logits (no final activation).
    pub fn init_decoder(&self, latent_dim: usize, device: &Device) -> ConvDecoder {
        let mut widths: Vec<usize> = self.channels.iter().rev().copied().collect();
        widths.push(self.input_shape[0]);
        let last = widths.len() - 2;
        let blocks = widths
            .windows(2)
            .enumerate()
            .map(|(i, pair)| DeconvBlock {
                conv: ConvTranspose2dConfig::new([pair[0], pair[1]], [self.kernel_size; 2])
                    .with_stride([2, 2])
                    .with_padding([self.kernel_size / 2; 2])
                    .with_padding_out([1, 1])
                    .init(device),
                norm: (self.batch_norm && i < last)
                    .then(|| BatchNormConfig::new(pair[1]).init(device)),
            })
            .collect();
        ConvDecoder {
            input: LinearConfig::new(latent_dim, self.feature_numel()).init(device),
            blocks,
            activation: self.activation.init(device),
            feature_shape: self.feature_shape(),
        }
    }
}

/// A stride-2 convolution with optional batch normalisation.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution.
    pub conv: Conv2d,
    /// Batch normalisation, when configured.
    pub norm: Option<BatchNorm>,
}

/// A stride-2 transposed convolution with optional batch normalisation.
#[derive(Module, Debug)]
pub struct DeconvBlock {
    /// The transposed convolution.
    pub conv: ConvTranspose2d,
    /// Batch normalisation, when configured.
    pub norm: Option<BatchNorm>,
}

/// Convolutions that halve the image at every layer, then a flatten.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    /// The layers, input first.
    pub blocks: Vec<ConvBlock>,
    /// The activation after every layer.
    pub activation: Activation,
}

impl ConvEncoder {
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, C_last * H / 2^L * W / 2^L]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(images, |x, block| {
            let y = crate::ops::conv2d(&block.conv, x);
            let y = match &block.norm {
                Some(norm) => norm.forward(y),
                None => y,
            };
            crate::ops::activation(&self.activation, y)
        });
        x.flatten(1, 3)
    }
}

/// A dense layer to a small feature map, then transposed convolutions that double it at every
/// layer, ending in logits of the input's shape.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    /// Code to the innermost feature map.
    pub input: Linear,
    /// The layers, innermost first.
    pub blocks: Vec<DeconvBlock>,
    /// The activation after every layer but the last.
    pub activation: Activation,
    /// `[C, H, W]` of the innermost feature map.
    pub feature_shape: [usize; 3],
}

impl ConvDecoder {
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C, H, W]` (logits)
    pub fn forward(&self, codes: Tensor<2>) -> Tensor<4> {
        let [n, _] = codes.dims();
        let [c, h, w] = self.feature_shape;
        let x = self
            .activation
            .forward(crate::ops::linear(&self.input, codes));
        let last = self.blocks.len().saturating_sub(1);
        self.blocks
            .iter()
            .enumerate()
            .fold(x.reshape([n, c, h, w]), |x, (i, block)| {
                let y = crate::ops::conv_transpose2d(&block.conv, x);
                if i == last {
                    return y;
                }
                let y = match &block.norm {
                    Some(norm) => norm.forward(y),
                    None => y,
                };
                crate::ops::activation(&self.activation, y)
            })
    }
}
