//! Anomaly detection with autoencoders: an image the model reconstructs badly (or, for a VAE,
//! finds unlikely) is flagged as anomalous.
//!
//! Scores are "higher is more anomalous". Labels are `true` for anomalies (the positive class).

use serde::{Deserialize, Serialize};

use burn::tensor::Device;

use ae_data::ImageDataset;
use ae_models::{Autoencoder, VariationalAutoencoder};

use crate::error::{Result, TrainError};
use crate::eval::{image_batches, real_rows, reconstruction_errors};

/// Precision, recall and F1 of flagging `score > threshold` as anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdReport {
    /// Scores strictly above it are flagged.
    pub threshold: f64,
    /// Flagged anomalies / flagged.
    pub precision: f64,
    /// Flagged anomalies / anomalies.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

fn check(scores: &[f64], labels: &[bool]) -> Result<(usize, usize)> {
    if scores.len() != labels.len() {
        return Err(TrainError::InvalidArgument {
            what: "anomaly labels",
            message: format!("{} scores but {} labels", scores.len(), labels.len()),
        });
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(TrainError::InvalidArgument {
            what: "anomaly scores",
            message: format!("score {i} is NaN"),
        });
    }
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(TrainError::InvalidArgument {
            what: "anomaly labels",
            message: format!("need both classes, got {positives} anomalies and {negatives} normal"),
        });
    }
    Ok((positives, negatives))
}

/// Area under the ROC curve: the probability that a random anomaly scores higher than a random
/// normal sample (ties count one half), computed from ranks (the Mann–Whitney U statistic).
///
/// ```
/// use ae_train::anomaly::auroc;
///
/// // Anomalies (true) score 0.9 and 0.4, normal samples 0.1, 0.4 and 0.3: of the six pairs,
/// // the anomaly scores higher in five, and one pair is a tie.
/// let scores = [0.9, 0.1, 0.4, 0.4, 0.3];
/// let labels = [true, false, true, false, false];
/// assert_eq!(auroc(&scores, &labels)?, 5.5 / 6.0);
/// assert!(auroc(&[0.5], &[true]).is_err()); // one class only
/// # Ok::<(), ae_train::TrainError>(())
/// ```
///
/// # Errors
/// When the lengths differ, a score is NaN, or one class is missing.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let (positives, negatives) = check(scores, labels)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks (1-based) over runs of tied scores.
    let mut rank_sum_positive = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_positive +=
            order[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * average_rank;
        i = j + 1;
    }
    let p = positives as f64;
    Ok((rank_sum_positive - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Area under the precision-recall curve as average precision: `Σ_n (R_n − R_{n−1}) P_n` over the
/// distinct score thresholds, highest first (the definition of scikit-learn's
/// `average_precision_score`).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let (positives, _) = check(scores, labels)?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        let recall = tp as f64 / positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
        i = j;
    }
    Ok(ap)
}

/// Precision, recall and F1 of flagging scores above `threshold`.
pub fn at_threshold(scores: &[f64], labels: &[bool], threshold: f64) -> Result<ThresholdReport> {
    let (positives, _) = check(scores, labels)?;
    let (mut tp, mut flagged) = (0usize, 0usize);
    for (&s, &l) in scores.iter().zip(labels) {
        if s > threshold {
            flagged += 1;
            tp += usize::from(l);
        }
    }
    Ok(threshold_report(threshold, tp, flagged, positives))
}

/// The report of a threshold that flags `flagged` scores, `tp` of them anomalies.
fn threshold_report(
    threshold: f64,
    tp: usize,
    flagged: usize,
    positives: usize,
) -> ThresholdReport {
    let precision = if flagged == 0 {
        0.0
    } else {
        tp as f64 / flagged as f64
    };
    let recall = tp as f64 / positives as f64;
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    ThresholdReport {
        threshold,
        precision,
        recall,
        f1,
    }
}

/// Flagging from the highest score down, in one sort: for each distinct score (highest first)
/// the scores strictly above it, as `(threshold, anomalies among them, all of them)`. Past the
/// last, everything is flagged: `(positives, scores.len())`.
fn sweep(scores: &[f64], labels: &[bool]) -> Vec<(f64, usize, usize)> {
    let mut ranked: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut thresholds = Vec::new();
    let (mut tp, mut flagged) = (0usize, 0usize);
    let mut rest = ranked.as_slice();
    while let Some(&(threshold, _)) = rest.first() {
        thresholds.push((threshold, tp, flagged));
        // -0.0 and 0.0 are one threshold, as `>` sees them.
        let ties = rest.iter().take_while(|(s, _)| *s == threshold).count();
        tp += rest[..ties].iter().filter(|(_, label)| *label).count();
        flagged += ties;
        rest = &rest[ties..];
    }
    thresholds
}

/// The threshold with the best F1 on labelled scores (an upper bound on what a threshold chosen
/// without labels can reach): of flagging everything, or everything above one of the scores,
/// the first best in that order (lower thresholds first).
///
/// One sort and one sweep from the highest score down (`O(n log n)`): trying each distinct
/// score with [`at_threshold`] took minutes on a few hundred thousand table rows.
pub fn best_f1(scores: &[f64], labels: &[bool]) -> Result<ThresholdReport> {
    let (positives, _) = check(scores, labels)?;
    let thresholds = sweep(scores, labels);
    // Just below the lowest score: everything flagged.
    let lowest = thresholds.last().map_or(0.0, |&(s, _, _)| s);
    let below_all = (lowest - 1.0).min(lowest.next_down());
    let mut best = threshold_report(below_all, positives, scores.len(), positives);
    for &(threshold, tp, flagged) in thresholds.iter().rev() {
        let report = threshold_report(threshold, tp, flagged, positives);
        if report.f1 > best.f1 {
            best = report;
        }
    }
    Ok(best)
}

/// The ROC curve of flagging scores above a threshold, one point per distinct score: the
/// false-positive rate (normal data flagged) and the true-positive rate (anomalies flagged),
/// from `(0, 0)` (nothing flagged) to `(1, 1)` (everything). Its area is [`auroc`].
///
/// # Errors
/// As [`auroc`]: mismatched lengths, a NaN score, or labels of one class only.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<Vec<(f64, f64)>> {
    let (positives, negatives) = check(scores, labels)?;
    let rates = |tp: usize, flagged: usize| {
        (
            (flagged - tp) as f64 / negatives as f64,
            tp as f64 / positives as f64,
        )
    };
    let mut points: Vec<(f64, f64)> = sweep(scores, labels)
        .into_iter()
        .map(|(_, tp, flagged)| rates(tp, flagged))
        .collect();
    points.push(rates(positives, scores.len()));
    Ok(points)
}

/// The `q`-th percentile (0..=100, linear interpolation) of scores of normal data: flagging
/// above it marks about `100 − q` % of normal data as anomalous.
pub fn percentile(values: &[f64], q: f64) -> Result<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&q) {
        return Err(TrainError::InvalidArgument {
            what: "percentile",
            message: format!("{q} of {} values", values.len()),
        });
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Ok(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Per-image anomaly scores: the reconstruction MSE.
pub fn reconstruction_scores<M: Autoencoder>(
    model: &M,
    data: &ImageDataset,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f64>> {
    Ok(reconstruction_errors(model, data, batch_size, device)?
        .mse
        .into_iter()
        .map(f64::from)
        .collect())
}

/// Per-image anomaly scores of a VAE: the negative ELBO (one posterior sample, seeded).
pub fn vae_scores(
    model: &VariationalAutoencoder,
    data: &ImageDataset,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<f64>> {
    device.seed(seed);
    let mut scores = Vec::with_capacity(data.count());
    for batch in image_batches(data, batch_size, device) {
        let elbo = model
            .importance_weighted_log_likelihood(batch.images, 1)
            .neg();
        scores.extend(real_rows(elbo, batch.rows)?.into_iter().map(f64::from));
    }
    Ok(scores)
}

/// Everything the anomaly examples report for one set of scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReport {
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Area under the precision-recall curve (average precision).
    pub auprc: f64,
    /// At the threshold taken from normal validation data (no labels needed).
    pub at_percentile: ThresholdReport,
    /// At the best-F1 threshold (uses the labels; an optimistic bound).
    pub best_f1: ThresholdReport,
}

/// Scores a detector: `normal_validation` scores set the percentile threshold.
pub fn report(
    scores: &[f64],
    labels: &[bool],
    normal_validation: &[f64],
    percentile_q: f64,
) -> Result<AnomalyReport> {
    let threshold = percentile(normal_validation, percentile_q)?;
    Ok(AnomalyReport {
        auroc: auroc(scores, labels)?,
        auprc: average_precision(scores, labels)?,
        at_percentile: at_threshold(scores, labels, threshold)?,
        best_f1: best_f1(scores, labels)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_by_hand() {
        // Positives score 0.9, 0.4; negatives 0.8, 0.3, 0.1. Pairs won by the positive:
        // 0.9 beats all three, 0.4 beats 0.3 and 0.1 -> 5 of 6.
        let scores = [0.9, 0.8, 0.4, 0.3, 0.1];
        let labels = [true, false, true, false, false];
        assert!((auroc(&scores, &labels).unwrap() - 5.0 / 6.0).abs() < 1e-12);
        // Perfect and reversed rankings.
        assert_eq!(auroc(&[3.0, 2.0, 1.0], &[true, false, false]).unwrap(), 1.0);
        assert_eq!(auroc(&[1.0, 2.0, 3.0], &[true, false, false]).unwrap(), 0.0);
        // A tie between a positive and a negative counts one half.
        assert_eq!(auroc(&[1.0, 1.0], &[true, false]).unwrap(), 0.5);
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending: 0.9 (P), 0.8 (N), 0.4 (P), 0.3 (N), 0.1 (N).
        // Recall steps at 0.9 (P = 1) and 0.4 (P = 2/3): AP = 0.5 * 1 + 0.5 * 2/3.
        let scores = [0.9, 0.8, 0.4, 0.3, 0.1];
        let labels = [true, false, true, false, false];
        let expected = 0.5 + 0.5 * 2.0 / 3.0;
        assert!((average_precision(&scores, &labels).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn thresholds_by_hand() {
        let scores = [0.9, 0.8, 0.4, 0.3, 0.1];
        let labels = [true, false, true, false, false];
        let r = at_threshold(&scores, &labels, 0.35).unwrap();
        // Flagged: 0.9 (P), 0.8 (N), 0.4 (P): precision 2/3, recall 1, F1 0.8.
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-12 && r.recall == 1.0);
        assert!((r.f1 - 0.8).abs() < 1e-12);
        let best = best_f1(&scores, &labels).unwrap();
        assert!((best.f1 - 0.8).abs() < 1e-12, "{best:?}");
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0).unwrap(), 3.0);
        assert!((percentile(&[1.0, 2.0], 95.0).unwrap() - 1.95).abs() < 1e-12);
    }

    /// By hand, and its area by the trapezoid rule is the rank-based AUROC (ties included).
    #[test]
    fn roc_curve_by_hand() {
        let scores = [0.9, 0.8, 0.4, 0.4, 0.1];
        let labels = [true, false, true, false, false];
        let curve = roc_curve(&scores, &labels).unwrap();
        let expected = [
            (0.0, 0.0),
            (0.0, 0.5),
            (1.0 / 3.0, 0.5),
            (2.0 / 3.0, 1.0),
            (1.0, 1.0),
        ];
        assert_eq!(curve.len(), expected.len());
        for (got, want) in curve.iter().zip(expected) {
            assert!(
                (got.0 - want.0).abs() < 1e-12 && got.1 == want.1,
                "{curve:?}"
            );
        }
        let area: f64 = curve
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum();
        assert!((area - auroc(&scores, &labels).unwrap()).abs() < 1e-12);
    }

    proptest::proptest! {
        /// The sweep finds what trying every threshold finds, ties and signed zeros included.
        #[test]
        fn best_f1_is_the_best_threshold(
            rows in proptest::collection::vec((-4i8..4, proptest::bool::ANY), 2..60)
        ) {
            let scores: Vec<f64> = rows
                .iter()
                .map(|&(s, label)| if s == 0 && label { -0.0 } else { f64::from(s) * 0.5 })
                .collect();
            let mut labels: Vec<bool> = rows.iter().map(|&(_, l)| l).collect();
            labels[0] = true;
            labels[1] = false;
            let best = best_f1(&scores, &labels).unwrap();
            let mut thresholds = scores.clone();
            thresholds.sort_by(f64::total_cmp);
            let below_all = thresholds[0] - 1.0;
            let mut expected = at_threshold(&scores, &labels, below_all).unwrap();
            for &t in &thresholds {
                let r = at_threshold(&scores, &labels, t).unwrap();
                if r.f1 > expected.f1 {
                    expected = r;
                }
            }
            proptest::prop_assert_eq!(best.f1, expected.f1);
            proptest::prop_assert_eq!(best.threshold, expected.threshold);
            proptest::prop_assert_eq!(best.precision, expected.precision);
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(auroc(&[1.0], &[true, false]).is_err());
        assert!(auroc(&[1.0, 2.0], &[true, true]).is_err());
        assert!(auroc(&[f64::NAN, 2.0], &[true, false]).is_err());
        assert!(percentile(&[], 50.0).is_err());
    }
}
