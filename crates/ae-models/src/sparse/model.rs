use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::autoencoder::{Autoencoder, AutoencoderOutput, LossTerm};
use crate::loss::masked_mean;
use crate::sparse::{SparseAutoencoderConfig, SparsityPenalty};
use crate::vanilla::VanillaAutoencoder;

/// A dense autoencoder trained with a sparsity penalty on its code, so that each input is
/// represented by few active units.
///
/// The penalty is its own loss term (`"sparsity"`), next to `"reconstruction"`.
#[derive(Module, Debug)]
pub struct SparseAutoencoder {
    /// The dense autoencoder.
    pub base: VanillaAutoencoder,
    #[module(skip)]
    pub(super) config: SparseAutoencoderConfig,
}

/// How sparse a batch of codes is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparsityStats {
    /// The mean code value.
    pub mean_activation: f64,
    /// The fraction of code values below the configured threshold.
    pub inactive_fraction: f64,
}

impl SparseAutoencoder {
    pub(crate) fn new(config: &SparseAutoencoderConfig, device: &Device) -> Self {
        Self {
            base: VanillaAutoencoder::new(&config.effective_base(), device),
            config: config.clone(),
        }
    }

    /// The weighted penalty of a batch of codes.
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[1]`
    pub fn penalty(&self, codes: Tensor<2>) -> Tensor<1> {
        sparsity_penalty(self.config.penalty, codes, None)
    }

    /// The mean activation and the fraction of inactive code values of a batch of codes.
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    pub fn stats(&self, codes: Tensor<2>) -> SparsityStats {
        let n = codes.dims().iter().product::<usize>().max(1) as f64;
        let mean = codes.clone().mean().into_scalar::<f64>();
        let inactive = codes
            .abs()
            .lower_elem(self.config.inactive_below)
            .int()
            .sum()
            .into_scalar::<i64>();
        SparsityStats {
            mean_activation: mean,
            inactive_fraction: inactive as f64 / n,
        }
    }
}

/// `weight * mean(|h|)` for L1; `weight * Σ_j KL(ρ ‖ ρ̂_j)` with `ρ̂_j` the batch mean of unit `j`
/// for KL (clamped away from 0 and 1 so the logarithms stay finite); over the rows `mask`
/// weights (`None`: every row).
///
/// # Shapes
/// - codes: `[N, latent_dim]`
/// - mask: `[N]`
/// - output: `[1]`
pub fn sparsity_penalty(
    penalty: SparsityPenalty,
    codes: Tensor<2>,
    mask: Option<&Tensor<1>>,
) -> Tensor<1> {
    let [n, d] = codes.dims();
    match penalty {
        SparsityPenalty::L1 { weight } => match mask {
            None => codes.abs().mean().mul_scalar(weight),
            Some(_) => {
                let per_row = codes.abs().mean_dim(1).squeeze_dim(1);
                masked_mean(per_row, mask).mul_scalar(weight)
            }
        },
        SparsityPenalty::Kl { weight, target } => {
            let rho_hat: Tensor<1> = match mask {
                None => codes.mean_dim(0).squeeze_dim(0),
                Some(mask) => {
                    let weights = mask.clone().reshape([n, 1]).expand([n, d]);
                    (codes * weights).sum_dim(0).squeeze_dim(0) / mask.clone().sum().expand([d])
                }
            }
            .clamp(1e-6, 1.0 - 1e-6);
            let one_minus = rho_hat.clone().neg().add_scalar(1.0);
            // ρ ln(ρ/ρ̂) + (1-ρ) ln((1-ρ)/(1-ρ̂)) = const - ρ ln ρ̂ - (1-ρ) ln(1-ρ̂)
            let constant = target * target.ln() + (1.0 - target) * (1.0 - target).ln();
            let kl = rho_hat.log().mul_scalar(-target) - one_minus.log().mul_scalar(1.0 - target);
            kl.add_scalar(constant).sum().mul_scalar(weight)
        }
    }
}

impl Autoencoder for SparseAutoencoder {
    fn input_shape(&self) -> [usize; 3] {
        self.base.input_shape()
    }

    fn latent_dim(&self) -> usize {
        self.base.latent_dim()
    }

    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.base.encode(images)
    }

    fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.base.decode(codes)
    }

    /// # Shapes
    /// - input, target: `[N, C, H, W]`
    /// - mask: `[N]`
    fn forward_masked(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        mask: Option<Tensor<1>>,
    ) -> AutoencoderOutput {
        let mut output = self.base.forward_masked(input, target, mask.clone());
        let penalty = sparsity_penalty(self.config.penalty, output.latent.clone(), mask.as_ref());
        output.loss = output.loss + penalty.clone();
        output.terms.push(LossTerm {
            name: "sparsity",
            value: penalty,
        });
        output
    }

    fn loss_term_names(&self) -> Vec<&'static str> {
        vec!["reconstruction", "sparsity"]
    }

    fn replay_hazard(&self) -> Option<&'static str> {
        self.base.replay_hazard()
    }
}
