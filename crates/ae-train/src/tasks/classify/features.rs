use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use ae_data::ImageDataset;
use ae_models::Autoencoder;
use ae_models::ops::matmul;

use crate::error::{Result, TrainError};
use crate::eval::{image_batches, int_values, values};
/// The codes of every image of `data`, row after row.
pub fn encode_all<M: Autoencoder + ?Sized>(
    model: &M,
    data: &ImageDataset,
    device: &Device,
) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for batch in image_batches(data, 500, device) {
        let mut codes = values(model.encode(batch.images))?;
        codes.truncate(batch.rows * model.latent_dim());
        out.extend(codes);
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

/// The most classes the classifiers here take: a softmax over more is a different problem
/// (thousands of outputs per feature, trained for minutes to hours per feature set, and a few
/// examples per class), which these few-label comparisons are not built for.
pub const MAX_CLASSES: usize = 1000;

/// `Ok` when `classes` is from 2 to [`MAX_CLASSES`], else an error with the figure and what to do.
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming the number of classes.
pub fn check_classes(classes: usize) -> Result<()> {
    if classes < 2 {
        // Every classifier would be right every time, and report it as a result.
        return Err(TrainError::InvalidArgument {
            what: "dataset",
            message: format!(
                "{classes} class: classification needs two or more (one sub-folder per class)"
            ),
        });
    }
    if classes > MAX_CLASSES {
        return Err(TrainError::InvalidArgument {
            what: "dataset",
            message: format!(
                "{classes} classes: the classifiers here take at most {MAX_CLASSES} (a softmax \
                 over {classes} classes needs {classes} weights per feature and far more labels \
                 than a few-label comparison has); group the classes (one folder per group) or \
                 use a dataset of fewer"
            ),
        });
    }
    Ok(())
}

/// Multinomial logistic regression (one linear layer, softmax cross-entropy, Adam 1e-2, batch
/// 128) trained on the rows `rows` of `x` for `epochs` epochs.
///
/// # Errors
/// Besides the training's own, [`TrainError::InvalidArgument`] for no rows, features or classes,
/// or more than [`MAX_CLASSES`] classes.
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
    check_classes(classes)?;
    // On the CPU the loop runs on one of rayon's threads, as `fit`'s does.
    ae_models::ops::on_kernel_threads(device, || {
        let ad = device.clone().autodiff();
        ad.seed(seed);
        let mut model = LinearConfig::new(dim, classes).init(&ad).train();
        let mut optim = crate::fit::adam_optimizer(&AdamConfig::new());
        let loss_fn = CrossEntropyLossConfig::new().init(&ad);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut order = rows.to_vec();
        let mut step = 0;
        for _ in 0..epochs {
            order.shuffle(&mut rng);
            let mut last_loss = None;
            for batch in order.chunks(128) {
                step += 1;
                let xb = Tensor::<2>::from_data(
                    TensorData::new(gather(x, dim, batch), [batch.len(), dim]),
                    &ad,
                );
                let labels: Vec<i64> = batch.iter().map(|&r| i64::from(y[r])).collect();
                let yb = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch.len()]), &ad);
                let loss = loss_fn.forward(model.forward(xb), yb);
                last_loss = Some(loss.clone().detach());
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-2, model, grads);
            }
            // One read per epoch: a diverged classifier is an error, not a chance-level score.
            if let Some(loss) = last_loss {
                let value = f64::from(values(loss)?[0]);
                if !value.is_finite() {
                    return Err(TrainError::LossNotFinite {
                        what: "logistic regression",
                        step,
                        loss: value,
                    });
                }
            }
        }
        Ok(model.valid())
    })
}

/// How many predicted classes equal their label (pairs past the shorter slice are ignored).
pub(super) fn count_correct(predicted: &[i64], labels: &[u32]) -> usize {
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
            reference_sq.clone() - matmul(q, reference.clone().transpose()).mul_scalar(2.0);
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
