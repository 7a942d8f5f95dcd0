//! The interface every autoencoder of the zoo implements.

use burn::tensor::Tensor;

/// One named part of a loss (the reconstruction term, a KL term, a sparsity penalty, ...).
#[derive(Debug, Clone)]
pub struct LossTerm {
    /// A short, stable name, used as the metric name (`"reconstruction"`, `"kl"`, ...).
    pub name: &'static str,
    /// Its value, already weighted as it enters the total.
    ///
    /// # Shapes
    /// `[1]`
    pub value: Tensor<1>,
}

/// What a forward pass returns: the reconstruction, the code and the loss with its parts.
#[derive(Debug, Clone)]
pub struct AutoencoderOutput {
    /// The reconstruction, in the same space as the input (`[0, 1]` with a sigmoid output).
    ///
    /// # Shapes
    /// `[N, C, H, W]`
    pub reconstruction: Tensor<4>,
    /// The latent code of each input.
    ///
    /// # Shapes
    /// `[N, latent_dim]`
    pub latent: Tensor<2>,
    /// The total loss the optimiser minimises: the sum of `terms`.
    ///
    /// # Shapes
    /// `[1]`
    pub loss: Tensor<1>,
    /// The parts of `loss`; the first is always `"reconstruction"`.
    pub terms: Vec<LossTerm>,
}

/// An autoencoder of images: every model of the zoo answers the same questions.
///
/// Inputs are `[N, C, H, W]` batches with values in `[0, 1]` (see `ae_data::ImageBatcher`).
pub trait Autoencoder {
    /// The `[C, H, W]` shape of one input.
    fn input_shape(&self) -> [usize; 3];

    /// The size of the latent code.
    fn latent_dim(&self) -> usize;

    /// Maps images to their codes (for a variational model: the posterior mean).
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, latent_dim]`
    fn encode(&self, images: Tensor<4>) -> Tensor<2>;

    /// Maps codes back to images, in the input's value range.
    ///
    /// # Shapes
    /// - codes: `[N, latent_dim]`
    /// - output: `[N, C, H, W]`
    fn decode(&self, codes: Tensor<2>) -> Tensor<4>;

    /// A training forward pass from `input` that is scored against `target` (they differ for a
    /// denoising model, where the input is corrupted and the target clean), counting only the
    /// rows `mask` weights (`1` real, `0` padding; `None`: every row): the losses of a batch
    /// padded to a fixed size equal the losses of its real rows.
    ///
    /// # Shapes
    /// - input, target: `[N, C, H, W]`
    /// - mask: `[N]`
    fn forward_masked(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        mask: Option<Tensor<1>>,
    ) -> AutoencoderOutput;

    /// A training forward pass from `input` that is scored against `target`, every row counted.
    ///
    /// # Shapes
    /// - input, target: `[N, C, H, W]`
    fn forward_with_target(&self, input: Tensor<4>, target: Tensor<4>) -> AutoencoderOutput {
        self.forward_masked(input, target, None)
    }

    /// A forward pass scored against its own input.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    fn forward(&self, images: Tensor<4>) -> AutoencoderOutput {
        self.forward_with_target(images.clone(), images)
    }

    /// The names of the loss terms [`forward`](Self::forward) reports, in order (for metrics).
    fn loss_term_names(&self) -> Vec<&'static str> {
        vec!["reconstruction"]
    }

    /// Why a training step of this model cannot be recorded once and replayed for every batch
    /// (`ae_train::CapturedTrainingStep`, `--capture`), or `None` when it can: a replay repeats
    /// the recorded kernels, so a step must be a fixed function of the batch and the weights —
    /// no random draws, no batch-norm running statistics. The default is a refusal: a model says
    /// it is replayable only when it knows it is.
    fn replay_hazard(&self) -> Option<&'static str> {
        Some("it does not say whether its training step is deterministic")
    }

    /// The deterministic reconstruction of `images` (`decode(encode(images))`).
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, C, H, W]`
    fn reconstruct(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }
}
