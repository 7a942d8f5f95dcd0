use burn::tensor::{Device, Tensor, TensorData, Tolerance};

use super::*;
use crate::persist::SavedModel;

fn matrix(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let cols = rows[0].len();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), device)
}

#[test]
fn loss_counts_observed_ratings_only() {
    let device = Device::flex();
    let model = AutoRecConfig::new(4)
        .with_hidden(3)
        .with_weight_decay(0.0)
        .init(&device);
    let input = matrix(&[&[5., 0., 3., 0.]], &device);
    let predictions = model.reconstruct(input.clone());
    let p = predictions.into_data().try_to_vec_as::<f32>().unwrap();
    // Target 4 at column 1 and 2 at column 3; columns 0 and 2 are not scored.
    let target = matrix(&[&[100., 4., -7., 2.]], &device);
    let mask = matrix(&[&[0., 1., 0., 1.]], &device);
    let output = model.forward(input, target, mask);
    let expected = ((p[1] - 4.0).powi(2) + (p[3] - 2.0).powi(2)) / 2.0;
    let loss = output.loss.into_scalar::<f32>();
    assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    assert_eq!(output.terms.len(), 2);
}

#[test]
fn weight_penalty_by_hand() {
    let device = Device::flex();
    let model = AutoRecConfig::new(3)
        .with_hidden(2)
        .with_weight_decay(0.5)
        .init(&device);
    let sum_sq = |t: Tensor<2>| t.square().sum().into_scalar::<f32>();
    let expected = 0.25 * (sum_sq(model.encoder.weight.val()) + sum_sq(model.decoder.weight.val()));
    let penalty = model.weight_penalty().into_scalar::<f32>();
    assert!((penalty - expected).abs() < 1e-5);
}

#[test]
fn predictions_are_clamped_and_save_load_round_trips() {
    let device = Device::flex();
    let model = AutoRecConfig::new(5).with_hidden(4).init(&device);
    let input = matrix(&[&[500., 0., -300., 0., 2.]], &device);
    let predicted = model
        .predict(input.clone())
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    assert!(
        predicted.iter().all(|v| (1.0..=5.0).contains(v)),
        "{predicted:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = AutoRec::load(dir.path(), &device).unwrap();
    loaded
        .reconstruct(input.clone())
        .into_data()
        .assert_approx_eq::<f32>(
            &model.reconstruct(input).into_data(),
            Tolerance::absolute(0.0),
        );
    assert!(
        AutoRecConfig::new(5)
            .with_min_rating(5.0)
            .try_init(&device)
            .is_err()
    );
}
