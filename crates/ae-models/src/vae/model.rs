use burn::module::Module;
use burn::nn::activation::Activation;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderOutput, LossTerm};
use crate::conv_stack::{ConvDecoder, ConvEncoder};
use crate::dense::{DenseStack, DenseStackConfig, WeightInit};
use crate::loss::{ReconstructionLoss, bce_with_logits, masked_mean};
use crate::ops::{self, exp, sigmoid};
use crate::vae::{VaeArchitecture, VaeConfig};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The part of a VAE that maps images to features (before the mean and log-variance heads).
#[derive(Module, Debug)]
pub enum VaeEncoder {
    /// Dense layers, with the activation after the last one too.
    Mlp(DenseStack),
    /// Convolutions, flattened.
    Conv(ConvEncoder),
}

/// The part of a VAE that maps codes to logits.
#[derive(Module, Debug)]
pub enum VaeDecoder {
    /// Dense layers.
    Mlp(DenseStack),
    /// A dense layer and transposed convolutions.
    Conv(ConvDecoder),
}

/// The parameters of the approximate posterior `q(z|x) = N(mean, exp(logvar))`.
#[derive(Debug, Clone)]
pub struct Posterior {
    /// # Shapes
    /// `[N, latent_dim]`
    pub mean: Tensor<2>,
    /// Clamped log-variance.
    ///
    /// # Shapes
    /// `[N, latent_dim]`
    pub logvar: Tensor<2>,
}

/// A variational autoencoder: the encoder gives a Gaussian posterior over codes, a code is
/// sampled with the reparameterisation trick, and the loss is the negative ELBO per image,
/// `E_q[-log p(x|z)] + β KL(q(z|x) ‖ N(0, I))`, in nats.
///
/// [`encode`](Autoencoder::encode) and [`reconstruct`](Autoencoder::reconstruct) use the
/// posterior mean; [`forward`](Autoencoder::forward) samples.
#[derive(Module, Debug)]
pub struct VariationalAutoencoder {
    /// Images to features.
    pub encoder: VaeEncoder,
    /// The activation after the dense encoder.
    pub activation: Activation,
    /// Features to the posterior mean.
    pub mean: Linear,
    /// Features to the posterior log-variance.
    pub logvar: Linear,
    /// Codes to logits.
    pub decoder: VaeDecoder,
    #[module(skip)]
    pub(super) config: VaeConfig,
}

impl VariationalAutoencoder {
    pub(crate) fn new(config: &VaeConfig, device: &Device) -> Self {
        let numel: usize = config.input_shape.iter().product();
        let (encoder, decoder, features) = match &config.architecture {
            VaeArchitecture::Mlp { hidden } => {
                let mut widths = vec![numel];
                widths.extend(hidden);
                let features = *widths.last().unwrap_or(&numel);
                let encoder = DenseStackConfig::new(widths.clone())
                    .with_activation(config.activation.clone())
                    .with_init(WeightInit::PyTorch)
                    .init(device);
                widths.reverse();
                widths.pop();
                let mut decoder_widths = vec![config.latent_dim];
                decoder_widths.extend(widths);
                decoder_widths.push(numel);
                let decoder = DenseStackConfig::new(decoder_widths)
                    .with_activation(config.activation.clone())
                    .with_init(WeightInit::PyTorch)
                    .init(device);
                (VaeEncoder::Mlp(encoder), VaeDecoder::Mlp(decoder), features)
            }
            VaeArchitecture::Conv { .. } => {
                // Validated before construction: the conv settings exist.
                let stack = config
                    .conv_stack()
                    .unwrap_or_else(|| unreachable!("conv architecture has conv settings"));
                (
                    VaeEncoder::Conv(stack.init_encoder(device)),
                    VaeDecoder::Conv(stack.init_decoder(config.latent_dim, device)),
                    stack.feature_numel(),
                )
            }
        };
        Self {
            encoder,
            activation: config.activation.init(device),
            mean: LinearConfig::new(features, config.latent_dim).init(device),
            logvar: LinearConfig::new(features, config.latent_dim).init(device),
            decoder,
            config: config.clone(),
        }
    }

    /// The approximate posterior of each image.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    pub fn posterior(&self, images: Tensor<4>) -> Posterior {
        let features = match &self.encoder {
            VaeEncoder::Mlp(stack) => {
                crate::ops::activation(&self.activation, stack.forward(images.flatten(1, 3)))
            }
            VaeEncoder::Conv(conv) => conv.forward(images),
        };
        let limit = self.config.logvar_limit;
        Posterior {
            mean: ops::linear(&self.mean, features.clone()),
            logvar: ops::linear(&self.logvar, features).clamp(-limit, limit),
        }
    }

    /// One code per image drawn from the posterior with the reparameterisation trick,
    /// `mean + exp(logvar / 2) * ε`, `ε ~ N(0, I)` from the device's generator.
    ///
    /// # Shapes
    /// - output: `[N, latent_dim]`
    pub fn sample_codes(&self, posterior: &Posterior) -> Tensor<2> {
        let eps = Tensor::random(
            posterior.mean.dims(),
            Distribution::Normal(0.0, 1.0),
            &posterior.mean.device(),
        );
        posterior.mean.clone() + exp(posterior.logvar.clone().mul_scalar(0.5)) * eps
    }

    /// Decoder logits, flattened.
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C * H * W]`
    pub fn decode_logits(&self, codes: Tensor<2>) -> Tensor<2> {
        match &self.decoder {
            VaeDecoder::Mlp(stack) => stack.forward(codes),
            VaeDecoder::Conv(conv) => conv.forward(codes).flatten(1, 3),
        }
    }

    fn activate(&self, logits: Tensor<2>) -> Tensor<2> {
        match self.config.likelihood {
            ReconstructionLoss::Bce => sigmoid(logits),
            ReconstructionLoss::Mse => logits,
        }
    }

    fn unflatten(&self, flat: Tensor<2>) -> Tensor<4> {
        let [n, _] = flat.dims();
        let [c, h, w] = self.config.input_shape;
        flat.reshape([n, c, h, w])
    }

    /// `-log p(x|z)` of each image in nats.
    ///
    /// # Shapes
    /// - logits, target: `[N, D]`
    /// - output: `[N]`
    pub fn negative_log_likelihood(&self, logits: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        let per_value = match self.config.likelihood {
            ReconstructionLoss::Bce => bce_with_logits(logits, target),
            ReconstructionLoss::Mse => (logits - target)
                .square()
                .mul_scalar(0.5)
                .add_scalar(0.5 * LN_2PI),
        };
        per_value.sum_dim(1).squeeze_dim(1)
    }

    /// `KL(N(mean, exp(logvar)) ‖ N(0, I))` of each image in nats.
    ///
    /// # Shapes
    /// - output: `[N]`
    pub fn kl_divergence(posterior: &Posterior) -> Tensor<1> {
        let Posterior { mean, logvar } = posterior.clone();
        ops::kl_terms(mean, logvar)
            .sum_dim(1)
            .squeeze_dim(1)
            .mul_scalar(0.5)
    }

    /// New images decoded from codes drawn from the prior `N(0, I)` (with the device's
    /// generator: seed it for reproducible samples).
    ///
    /// # Shapes
    /// - output: `[n, C, H, W]`
    pub fn sample(&self, n: usize, device: &Device) -> Tensor<4> {
        let z = Tensor::random(
            [n, self.config.latent_dim],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        self.decode(z)
    }

    /// Decodes `steps` codes evenly spaced on the segment between the posterior means of `a`
    /// and `b` (both ends included).
    ///
    /// # Shapes
    /// - a, b: `[1, C, H, W]`
    /// - output: `[steps, C, H, W]`
    pub fn interpolate(&self, a: Tensor<4>, b: Tensor<4>, steps: usize) -> Tensor<4> {
        let za = self.encode(a);
        let zb = self.encode(b);
        let device = za.device();
        let steps = steps.max(2);
        let t: Vec<f32> = (0..steps).map(|i| i as f32 / (steps - 1) as f32).collect();
        let t = Tensor::<1>::from_floats(t.as_slice(), &device).reshape([steps, 1]);
        let codes = za.clone() + (zb - za) * t;
        self.decode(codes)
    }

    /// The importance-weighted estimate (Burda et al., 2016) of `log p(x)` of each image, from
    /// `k` posterior samples: `log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x)`, in nats. It is a lower
    /// bound that tightens as `k` grows; `k = 1` is the ELBO. Papers report `-log p(x)`.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N]`
    pub fn importance_weighted_log_likelihood(&self, images: Tensor<4>, k: usize) -> Tensor<1> {
        let k = k.max(1);
        let target: Tensor<2> = images.clone().flatten(1, 3);
        let posterior = self.posterior(images);
        let [n, d] = posterior.mean.dims();
        let device = posterior.mean.device();
        let std = exp(posterior.logvar.clone().mul_scalar(0.5));
        let log_weights: Vec<Tensor<2>> = (0..k)
            .map(|_| {
                let eps = Tensor::<2>::random([n, d], Distribution::Normal(0.0, 1.0), &device);
                let z = posterior.mean.clone() + std.clone() * eps.clone();
                let log_px_z = self
                    .negative_log_likelihood(self.decode_logits(z.clone()), target.clone())
                    .neg();
                let log_pz = (z.square().add_scalar(LN_2PI))
                    .sum_dim(1)
                    .squeeze_dim::<1>(1)
                    .mul_scalar(-0.5);
                let log_qz = (eps.square() + posterior.logvar.clone())
                    .add_scalar(LN_2PI)
                    .sum_dim(1)
                    .squeeze_dim::<1>(1)
                    .mul_scalar(-0.5);
                (log_px_z + log_pz - log_qz).reshape([1, n])
            })
            .collect();
        let stacked = Tensor::cat(log_weights, 0); // [k, N]
        let max = stacked.clone().max_dim(0); // [1, N]
        let lse = (stacked - max.clone()).exp().sum_dim(0).log() + max;
        lse.squeeze_dim::<1>(0).sub_scalar((k as f64).ln())
    }
}

impl Autoencoder for VariationalAutoencoder {
    fn input_shape(&self) -> [usize; 3] {
        self.config.input_shape
    }

    fn latent_dim(&self) -> usize {
        self.config.latent_dim
    }

    /// The posterior mean.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, latent_dim]`
    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.posterior(images).mean
    }

    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C, H, W]`
    fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.unflatten(self.activate(self.decode_logits(codes)))
    }

    /// Samples one code per image (reparameterisation trick) and returns the negative ELBO per
    /// image as the loss, with its `"reconstruction"` and `"kl"` (β-weighted) terms.
    ///
    /// # Shapes
    /// - input, target: `[N, C, H, W]`
    fn forward_masked(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        mask: Option<Tensor<1>>,
    ) -> AutoencoderOutput {
        let posterior = self.posterior(input);
        let logits = self.decode_logits(self.sample_codes(&posterior));
        let reconstruction_nll = masked_mean(
            self.negative_log_likelihood(logits.clone(), target.flatten(1, 3)),
            mask.as_ref(),
        );
        let kl = masked_mean(Self::kl_divergence(&posterior), mask.as_ref())
            .mul_scalar(self.config.beta);
        AutoencoderOutput {
            reconstruction: self.unflatten(self.activate(logits)),
            latent: posterior.mean,
            loss: reconstruction_nll.clone() + kl.clone(),
            terms: vec![
                LossTerm {
                    name: "reconstruction",
                    value: reconstruction_nll,
                },
                LossTerm {
                    name: "kl",
                    value: kl,
                },
            ],
        }
    }

    fn loss_term_names(&self) -> Vec<&'static str> {
        vec!["reconstruction", "kl"]
    }

    fn replay_hazard(&self) -> Option<&'static str> {
        Some("it samples its codes with fresh random noise in every step")
    }
}
