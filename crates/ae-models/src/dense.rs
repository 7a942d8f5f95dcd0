//! A stack of fully connected layers, the building block of the MLP autoencoders.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Activation, ActivationConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Configuration of a [`DenseStack`].
#[derive(Config, Debug)]
pub struct DenseStackConfig {
    /// Layer widths from input to output: `[784, 128, 64]` makes two layers, 784→128→64.
    pub widths: Vec<usize>,
    /// Activation after every layer but the last.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Weight initialisation (Burn's default for `Linear`, the same bound as PyTorch's).
    #[config(
        default = "Initializer::KaimingUniform{gain: 0.577_350_269_189_625_8, fan_out_only: false}"
    )]
    pub initializer: Initializer,
}

/// Fully connected layers with an activation between them and none after the last, so that the
/// caller decides what the output means (a code, logits, ...).
#[derive(Module, Debug)]
pub struct DenseStack {
    /// The layers, input first.
    pub layers: Vec<Linear>,
    /// The activation between layers.
    pub activation: Activation,
}

impl DenseStackConfig {
    /// Initialises the layers on `device`.
    ///
    /// # Panics
    /// When fewer than two widths are given; models validate this before calling.
    pub fn init(&self, device: &Device) -> DenseStack {
        assert!(
            self.widths.len() >= 2,
            "a dense stack needs an input and an output width"
        );
        let layers = self
            .widths
            .windows(2)
            .map(|w| {
                LinearConfig::new(w[0], w[1])
                    .with_initializer(self.initializer.clone())
                    .init(device)
            })
            .collect();
        DenseStack {
            layers,
            activation: self.activation.init(device),
        }
    }
}

impl DenseStack {
    /// Applies the layers, with the activation between consecutive layers.
    ///
    /// # Shapes
    /// - input: `[N, widths[0]]`
    /// - output: `[N, widths[last]]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        self.layers
            .iter()
            .enumerate()
            .fold(input, |x, (i, layer)| {
                let y = layer.forward(x);
                if i < last {
                    self.activation.forward(y)
                } else {
                    y
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_widths() {
        let device = Device::flex();
        let stack = DenseStackConfig::new(vec![6, 4, 3]).init(&device);
        assert_eq!(stack.layers.len(), 2);
        let out = stack.forward(Tensor::ones([5, 6], &device));
        assert_eq!(out.dims(), [5, 3]);
    }

    #[test]
    fn no_activation_after_the_last_layer() {
        // With ReLU after the last layer every output would be >= 0; without it, a random
        // stack gives negative outputs for some inputs.
        let device = Device::flex();
        device.seed(3);
        let stack = DenseStackConfig::new(vec![8, 8, 8]).init(&device);
        let x = Tensor::random([64, 8], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let min = stack.forward(x).min().into_scalar::<f32>();
        assert!(min < 0.0, "min output {min}");
    }
}
