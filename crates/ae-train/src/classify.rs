//! Classification with autoencoders, the four ways: the codes of a trained autoencoder as
//! features for a separate classifier (frozen encoder: [`encode_all`] + [`train_logistic`] or
//! [`knn_accuracy`]; a VAE gives its posterior means), the encoder fine-tuned with a new softmax
//! head, and the encoder trained jointly on reconstruction and classification
//! ([`EncoderClassifier`], [`train_encoder_classifier`]) — each against the same classifier on
//! raw pixels or PCA codes, with few labels.

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use ae_data::ImageDataset;
use ae_models::{AnyAutoencoder, Autoencoder};

use crate::error::{Result, TrainError};
use crate::evaluate::{image_batches, int_values, values};

/// The codes of every image of `data`, row after row.
pub fn encode_all<M: Autoencoder + ?Sized>(
    model: &M,
    data: &ImageDataset,
    device: &Device,
) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for images in image_batches(data, 500, device) {
        out.extend(values(model.encode(images))?);
    }
    Ok(out)
}

/// Standardises columns of `train` and `test` (rows of `dim`) with the training mean and
/// standard deviation.
pub fn standardize(train: &[f32], test: &[f32], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (train.len() / dim).max(1) as f64;
    let mut mean = vec![0.0f64; dim];
    let mut var = vec![0.0f64; dim];
    for row in train.chunks_exact(dim) {
        row.iter()
            .enumerate()
            .for_each(|(j, &v)| mean[j] += f64::from(v) / n);
    }
    for row in train.chunks_exact(dim) {
        row.iter()
            .enumerate()
            .for_each(|(j, &v)| var[j] += (f64::from(v) - mean[j]).powi(2) / n);
    }
    let scale = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let j = i % dim;
                ((f64::from(v) - mean[j]) / var[j].sqrt().max(1e-6)) as f32
            })
            .collect()
    };
    (scale(train), scale(test))
}

/// A seeded subset of `fraction` of the rows (at least one), for few-label experiments.
pub fn labelled_subset(count: usize, fraction: f64, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    order.truncate(((count as f64 * fraction).round() as usize).clamp(1, count));
    order
}

fn gather(x: &[f32], dim: usize, rows: &[usize]) -> Vec<f32> {
    rows.iter()
        .flat_map(|&r| x[r * dim..(r + 1) * dim].iter().copied())
        .collect()
}

/// Multinomial logistic regression (one linear layer, softmax cross-entropy, Adam 1e-2, batch
/// 128) trained on the rows `rows` of `x` for `epochs` epochs.
#[allow(clippy::too_many_arguments)]
pub fn train_logistic(
    x: &[f32],
    y: &[u32],
    rows: &[usize],
    dim: usize,
    classes: usize,
    epochs: usize,
    seed: u64,
    device: &Device,
) -> Result<Linear> {
    if rows.is_empty() || classes == 0 || dim == 0 {
        return Err(TrainError::InvalidArgument {
            what: "classifier",
            message: format!("{} rows, {classes} classes, {dim} features", rows.len()),
        });
    }
    let ad = device.clone().autodiff();
    ad.seed(seed);
    let mut model = LinearConfig::new(dim, classes).init(&ad).train();
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order = rows.to_vec();
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        for batch in order.chunks(128) {
            let xb = Tensor::<2>::from_data(
                TensorData::new(gather(x, dim, batch), [batch.len(), dim]),
                &ad,
            );
            let labels: Vec<i64> = batch.iter().map(|&r| i64::from(y[r])).collect();
            let yb = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch.len()]), &ad);
            let loss = loss_fn.forward(model.forward(xb), yb);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
    }
    Ok(model.valid())
}

/// How many predicted classes equal their label (pairs past the shorter slice are ignored).
fn count_correct(predicted: &[i64], labels: &[u32]) -> usize {
    predicted
        .iter()
        .zip(labels)
        .filter(|(p, t)| **p == i64::from(**t))
        .count()
}

/// Accuracy of a linear classifier on rows of `x`.
pub fn linear_accuracy(
    model: &Linear,
    x: &[f32],
    y: &[u32],
    dim: usize,
    device: &Device,
) -> Result<f64> {
    let n = y.len();
    let mut correct = 0usize;
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let xb = Tensor::<2>::from_data(
            TensorData::new(x[start * dim..end * dim].to_vec(), [end - start, dim]),
            device,
        );
        let predicted = int_values(model.forward(xb).argmax(1))?;
        correct += count_correct(&predicted, &y[start..end]);
    }
    Ok(correct as f64 / n.max(1) as f64)
}

/// Accuracy of `k`-nearest-neighbour voting (Euclidean distance, computed on the device) of the
/// test rows against the training rows `rows`; ties go to the class of the nearest neighbour.
#[allow(clippy::too_many_arguments)]
pub fn knn_accuracy(
    train_x: &[f32],
    train_y: &[u32],
    rows: &[usize],
    test_x: &[f32],
    test_y: &[u32],
    dim: usize,
    k: usize,
    device: &Device,
) -> Result<f64> {
    let m = rows.len();
    let reference = Tensor::<2>::from_data(
        TensorData::new(gather(train_x, dim, rows), [m, dim]),
        device,
    );
    let reference_sq = reference.clone().square().sum_dim(1).reshape([1, m]);
    let k = k.clamp(1, m);
    let n = test_y.len();
    let mut correct = 0usize;
    for start in (0..n).step_by(100) {
        let end = (start + 100).min(n);
        let q = Tensor::<2>::from_data(
            TensorData::new(test_x[start * dim..end * dim].to_vec(), [end - start, dim]),
            device,
        );
        // |q - r|² = |q|² - 2 q·r + |r|² (the |q|² term does not change the ranking).
        let distances =
            reference_sq.clone() - q.matmul(reference.clone().transpose()).mul_scalar(2.0);
        let d = values(distances)?;
        for (i, row) in d.chunks_exact(m).enumerate() {
            let mut idx: Vec<usize> = (0..m).collect();
            idx.select_nth_unstable_by(k - 1, |&a, &b| row[a].total_cmp(&row[b]));
            let mut nearest = idx[..k].to_vec();
            nearest.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
            let mut votes = std::collections::HashMap::new();
            for &j in &nearest {
                *votes.entry(train_y[rows[j]]).or_insert(0usize) += 1;
            }
            let best = votes.values().copied().max().unwrap_or(0);
            let vote = nearest
                .iter()
                .map(|&j| train_y[rows[j]])
                .find(|c| votes[c] == best);
            correct += usize::from(vote == Some(test_y[start + i]));
        }
    }
    Ok(correct as f64 / n.max(1) as f64)
}

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
        for images in image_batches(data, 500, device) {
            let predicted = int_values(self.forward(images).argmax(1))?;
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
    mut progress: impl FnMut(ClassifierProgress),
) -> Result<EncoderClassifier> {
    let labels = train.labels().ok_or_else(no_labels)?;
    let invalid = |what, message: String| Err(TrainError::InvalidArgument { what, message });
    if labelled.is_empty() {
        return invalid("labelled rows", "no labelled image to train on".into());
    }
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
    let ad = device.clone().autodiff();
    ad.seed(config.seed);
    let autoencoder = autoencoder.fork(&ad);
    let mut model = EncoderClassifier::new(autoencoder, train.num_classes(), &ad).train();
    let mut optim = AdamConfig::new().init();
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
            Some(f64::from(values(loss.clone().detach())?[0]))
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
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learnt_and_knn_votes_by_hand() {
        let device = Device::flex();
        // Class 0 around (-2, 0), class 1 around (2, 0).
        let x: Vec<f32> = (0..40)
            .flat_map(|i| {
                let c = if i % 2 == 0 { -2.0 } else { 2.0 };
                [c + (i as f32 * 0.37).sin() * 0.5, (i as f32 * 0.71).cos()]
            })
            .collect();
        let y: Vec<u32> = (0..40).map(|i| (i % 2) as u32).collect();
        let rows: Vec<usize> = (0..40).collect();
        let model = train_logistic(&x, &y, &rows, 2, 2, 30, 1, &device).unwrap();
        assert_eq!(linear_accuracy(&model, &x, &y, 2, &device).unwrap(), 1.0);
        assert_eq!(
            knn_accuracy(&x, &y, &rows, &x, &y, 2, 3, &device).unwrap(),
            1.0
        );
        // One query at 0.9 between a class-1 point at 1 and two class-0 points at -1 and -1.2:
        // k = 1 picks class 1, k = 3 votes class 0.
        let tx = [1.0, 0.0, -1.0, 0.0, -1.2, 0.0];
        let ty = [1, 0, 0];
        let q = [0.9f32, 0.0];
        assert_eq!(
            knn_accuracy(&tx, &ty, &[0, 1, 2], &q, &[1], 2, 1, &device).unwrap(),
            1.0
        );
        assert_eq!(
            knn_accuracy(&tx, &ty, &[0, 1, 2], &q, &[0], 2, 3, &device).unwrap(),
            1.0
        );
        assert_eq!(labelled_subset(100, 0.1, 3).len(), 10);
        assert_eq!(labelled_subset(100, 0.1, 3), labelled_subset(100, 0.1, 3));
    }

    /// Two classes of 4x4 images: bright left half or bright right half, with some texture.
    fn halves(count: usize) -> ImageDataset {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for i in 0..count {
            let class = (i % 2) as u32;
            for p in 0..16 {
                let bright = (p % 4 < 2) == (class == 0);
                let texture = ((i * 7 + p * 13) % 40) as u8;
                pixels.push(if bright { 200 + texture } else { texture });
            }
            labels.push(class);
        }
        let names = vec!["left".into(), "right".into()];
        ImageDataset::new(
            "halves",
            ae_data::ImageShape::new(1, 4, 4),
            pixels,
            Some(labels),
            names,
        )
        .unwrap()
    }

    fn tiny_autoencoder(device: &Device) -> AnyAutoencoder {
        ae_models::VanillaAutoencoderConfig::new()
            .with_input_shape([1, 4, 4])
            .with_hidden(vec![8])
            .with_latent_dim(2)
            .try_init(device)
            .unwrap()
            .into()
    }

    #[test]
    fn fine_tuning_learns_the_labels_and_leaves_the_decoder_alone() {
        let device = Device::flex();
        device.seed(3);
        let data = halves(40);
        let autoencoder = tiny_autoencoder(&device);
        let code = || Tensor::<2>::from_data(TensorData::new(vec![0.3f32, 0.7], [1, 2]), &device);
        let decoded_before = values(autoencoder.decode(code())).unwrap();
        let config = EncoderClassifierConfig::new()
            .with_steps(150)
            .with_batch_size(8)
            .with_learning_rate(1e-2);
        let mut seen = Vec::new();
        let model = train_encoder_classifier(
            autoencoder,
            &data,
            &(0..10).collect::<Vec<_>>(),
            &config,
            &device,
            |p| seen.push(p),
        )
        .unwrap();
        assert_eq!(seen.len(), 150);
        assert!(seen.iter().all(|p| p.steps == 150));
        assert_eq!(seen.iter().filter(|p| p.loss.is_some()).count(), 3);
        // Ten labels were enough to classify all forty images.
        assert_eq!(model.accuracy(&data, &device).unwrap(), 1.0);
        // Cross-entropy sends no gradient to the decoder: Adam leaves it as it was.
        assert_eq!(
            values(model.autoencoder.decode(code())).unwrap(),
            decoded_before
        );
    }

    #[test]
    fn joint_training_also_trains_the_decoder_on_every_image() {
        let device = Device::flex();
        device.seed(4);
        let data = halves(40);
        let autoencoder = tiny_autoencoder(&device);
        let before = crate::evaluate::errors_of(&autoencoder, image_batches(&data, 40, &device))
            .unwrap()
            .report("halves")
            .mse;
        let config = EncoderClassifierConfig::new()
            .with_steps(300)
            .with_batch_size(8)
            .with_learning_rate(1e-2)
            .with_reconstruction_weight(10.0);
        // Two labels only; the reconstruction term sees all forty images.
        let model = train_encoder_classifier(autoencoder, &data, &[0, 1], &config, &device, |_| {})
            .unwrap();
        let after =
            crate::evaluate::errors_of(&model.autoencoder, image_batches(&data, 40, &device))
                .unwrap()
                .report("halves")
                .mse;
        assert!(
            after < before / 2.0,
            "reconstruction MSE {before} -> {after}"
        );
        assert_eq!(model.accuracy(&data, &device).unwrap(), 1.0);
    }

    #[test]
    fn classifier_training_rejects_bad_input() {
        let device = Device::flex();
        let data = halves(4);
        let config = EncoderClassifierConfig::new().with_steps(1);
        let run = |rows: &[usize], data: &ImageDataset, config: &EncoderClassifierConfig| {
            train_encoder_classifier(
                tiny_autoencoder(&device),
                data,
                rows,
                config,
                &device,
                |_| {},
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        };
        assert!(run(&[], &data, &config).contains("no labelled image"));
        assert!(run(&[1, 9], &data, &config).contains("row 9 is past the end of halves"));
        assert!(run(&[0], &data, &config.clone().with_steps(0)).contains("0 steps"));
        let unlabelled = ImageDataset::new(
            "plain",
            ae_data::ImageShape::new(1, 4, 4),
            vec![0; 32],
            None,
            vec![],
        )
        .unwrap();
        assert!(run(&[0], &unlabelled, &config).contains("needs labelled images"));
        let wide = ImageDataset::new(
            "wide",
            ae_data::ImageShape::new(1, 4, 5),
            vec![0; 20],
            Some(vec![0]),
            vec![],
        )
        .unwrap();
        assert!(run(&[0], &wide, &config).contains("takes [1, 4, 4] images but wide has 1x4x5"));
    }
}
