use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use ae_data::ImageDataset;
use ae_models::{AnyAutoencoder, Autoencoder};

use super::features::count_correct;
use crate::error::{Result, TrainError};
use crate::eval::{image_batches, int_values, values};
/// An autoencoder's encoder with a softmax classification head on its code: the model of
/// fine-tuning and of joint reconstruction + classification training.
///
/// The decoder stays part of the module: joint training scores reconstructions with it, and the
/// trained autoencoder can still be saved and used on its own (`model.autoencoder`).
#[derive(Module, Debug)]
pub struct EncoderClassifier {
    /// The autoencoder whose encoder computes the features (for a VAE: the posterior mean).
    pub autoencoder: AnyAutoencoder,
    /// The linear layer from the code to one logit per class.
    pub head: Linear,
}

impl EncoderClassifier {
    /// A classifier of `classes` classes on the codes of `autoencoder`, with a new head made on
    /// `device` (the autoencoder's own device).
    pub fn new(autoencoder: AnyAutoencoder, classes: usize, device: &Device) -> Self {
        let head = LinearConfig::new(autoencoder.latent_dim(), classes).init(device);
        Self { autoencoder, head }
    }

    /// The class logits of `images`.
    ///
    /// # Shapes
    /// - images: `[N, C, H, W]`
    /// - output: `[N, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.autoencoder.encode(images))
    }

    /// The fraction of `data`'s images whose most likely class is their label.
    ///
    /// # Errors
    /// When `data` has no labels, or reading a prediction back fails.
    pub fn accuracy(&self, data: &ImageDataset, device: &Device) -> Result<f64> {
        let labels = data.labels().ok_or_else(no_labels)?;
        let mut correct = 0usize;
        let mut start = 0usize;
        for batch in image_batches(data, 500, device) {
            let mut predicted = int_values(self.forward(batch.images).argmax(1))?;
            predicted.truncate(batch.rows);
            correct += count_correct(&predicted, &labels[start..]);
            start += predicted.len();
        }
        Ok(correct as f64 / data.count().max(1) as f64)
    }
}

fn no_labels() -> TrainError {
    TrainError::InvalidArgument {
        what: "dataset",
        message: "classification needs labelled images".into(),
    }
}

/// How [`train_encoder_classifier`] trains: fine-tuning on the labels alone, or joint training
/// with the autoencoder's own loss on all training images.
#[derive(Config, Debug)]
pub struct EncoderClassifierConfig {
    /// Adam steps. A budget in steps, not epochs, gives 1% and 100% of the labels the same amount
    /// of training.
    #[config(default = 2000)]
    pub steps: usize,
    /// Labelled images per step (and as many images of the whole training set per step for the
    /// reconstruction term).
    #[config(default = 128)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Weight of the autoencoder's own training loss (its reconstruction term, plus KL or
    /// sparsity where the model has them, as `AutoencoderOutput::loss`) on a batch drawn from
    /// every training image, labelled or not, added to the cross-entropy at every step. `0`
    /// trains encoder and head on the labels alone (fine-tuning).
    #[config(default = 0.0)]
    pub reconstruction_weight: f64,
    /// Seed of the head's initialisation and of the batch order.
    #[config(default = 42)]
    pub seed: u64,
}

/// Where [`train_encoder_classifier`] is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct ClassifierProgress {
    /// Steps done.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// The loss of the last step (cross-entropy plus the weighted reconstruction term). Read
    /// back every 50 steps and at the end only, as a read-back waits for the device.
    pub loss: Option<f64>,
}

/// Rows drawn in shuffled mini-batches, reshuffled each time a pass is used up.
struct Batches {
    order: Vec<usize>,
    next: usize,
}

impl Batches {
    fn new(rows: &[usize]) -> Self {
        Self {
            order: rows.to_vec(),
            next: usize::MAX,
        }
    }

    fn draw(&mut self, size: usize, rng: &mut StdRng) -> &[usize] {
        let size = size.min(self.order.len());
        if self.next.saturating_add(size) > self.order.len() {
            self.order.shuffle(rng);
            self.next = 0;
        }
        self.next += size;
        &self.order[self.next - size..self.next]
    }
}

/// Trains `autoencoder`'s encoder and a new softmax head on the labelled images `labelled` of
/// `train` — ways (b) and (c) of classifying with an autoencoder:
/// - fine-tuning (`reconstruction_weight` 0): a pretrained encoder, cross-entropy on the labels;
/// - joint training (`reconstruction_weight` > 0): at each step the cross-entropy of a labelled
///   batch plus the weighted autoencoder loss of a batch of all training images, so that the
///   unlabelled images shape the code too. Start it from an untrained model to train the two
///   objectives together from scratch.
///
/// `progress` is called after every step.
///
/// # Errors
/// When `train` has no labels, `labelled` is empty or points past the end, a setting is zero,
/// or the autoencoder does not take `train`'s images.
pub fn train_encoder_classifier(
    autoencoder: AnyAutoencoder,
    train: &ImageDataset,
    labelled: &[usize],
    config: &EncoderClassifierConfig,
    device: &Device,
    mut progress: impl FnMut(ClassifierProgress) + Send,
) -> Result<EncoderClassifier> {
    let labels = train.labels().ok_or_else(no_labels)?;
    let invalid = |what, message: String| Err(TrainError::InvalidArgument { what, message });
    if labelled.is_empty() {
        return invalid("labelled rows", "no labelled image to train on".into());
    }
    super::check_classes(train.num_classes())?;
    if let Some(&bad) = labelled.iter().find(|&&r| r >= labels.len()) {
        return invalid(
            "labelled rows",
            format!(
                "row {bad} is past the end of {} ({} images)",
                train.name(),
                labels.len()
            ),
        );
    }
    if config.steps == 0 || config.batch_size == 0 {
        return invalid(
            "classifier training",
            format!("{} steps of batch {}", config.steps, config.batch_size),
        );
    }
    if autoencoder.input_shape() != train.shape().dims() {
        return invalid(
            "autoencoder",
            format!(
                "it takes {:?} images but {} has {}",
                autoencoder.input_shape(),
                train.name(),
                train.shape()
            ),
        );
    }
    // On the CPU the loop runs on one of rayon's threads, as `fit`'s does.
    ae_models::ops::on_kernel_threads(device, || {
        let ad = device.clone().autodiff();
        ad.seed(config.seed);
        let autoencoder = autoencoder.fork(&ad);
        let mut model = EncoderClassifier::new(autoencoder, train.num_classes(), &ad).train();
        let mut optim = crate::fit::adam_optimizer(&AdamConfig::new());
        let cross_entropy = CrossEntropyLossConfig::new().init(&ad);
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut labelled_batches = Batches::new(labelled);
        let all_rows: Vec<usize> = (0..train.count()).collect();
        let mut unlabelled_batches = Batches::new(&all_rows);
        for step in 1..=config.steps {
            let batch = train.batch_of(labelled_batches.draw(config.batch_size, &mut rng), &ad);
            let targets = batch.labels.ok_or_else(no_labels)?;
            let mut loss = cross_entropy.forward(model.forward(batch.images), targets);
            if config.reconstruction_weight > 0.0 {
                let images = train
                    .batch_of(unlabelled_batches.draw(config.batch_size, &mut rng), &ad)
                    .images;
                let own = model.autoencoder.forward(images).loss;
                loss = loss + own.mul_scalar(config.reconstruction_weight);
            }
            let read = step % 50 == 0 || step == config.steps;
            let value = if read {
                let value = f64::from(values(loss.clone().detach())?[0]);
                if !value.is_finite() {
                    return Err(TrainError::LossNotFinite {
                        what: "encoder classifier",
                        step,
                        loss: value,
                    });
                }
                Some(value)
            } else {
                None
            };
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            progress(ClassifierProgress {
                step,
                steps: config.steps,
                loss: value,
            });
        }
        Ok(model.valid())
    })
}
