use super::*;
use crate::autoencoder::Autoencoder;
use crate::persist::SavedModel;
use burn::tensor::{Device, Distribution, Tensor};

fn penalty_of(penalty: SparsityPenalty, value: f32, device: &Device) -> f32 {
    sparsity_penalty(penalty, Tensor::full([8, 4], value, device), None).into_scalar::<f32>()
}

#[test]
fn kl_penalty_by_hand_and_zero_at_the_target() {
    let device = Device::flex();
    let kl = SparsityPenalty::Kl {
        weight: 2.0,
        target: 0.1,
    };
    assert!(penalty_of(kl, 0.1, &device).abs() < 1e-5);
    // Four units at ρ̂ = 0.5: 2 * 4 * (0.1 ln 0.2 + 0.9 ln 1.8).
    let expected = 2.0 * 4.0 * (0.1f32 * 0.2f32.ln() + 0.9 * 1.8f32.ln());
    assert!((penalty_of(kl, 0.5, &device) - expected).abs() < 1e-4);
}

#[test]
fn the_penalty_grows_with_activity() {
    let device = Device::flex();
    for penalty in [
        SparsityPenalty::L1 { weight: 1.0 },
        SparsityPenalty::Kl {
            weight: 1.0,
            target: 0.05,
        },
    ] {
        let values: Vec<f32> = [0.05, 0.2, 0.5, 0.9]
            .iter()
            .map(|&v| penalty_of(penalty, v, &device))
            .collect();
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "{penalty:?}: {values:?}"
        );
    }
    let l1 = penalty_of(SparsityPenalty::L1 { weight: 3.0 }, 0.5, &device);
    assert!((l1 - 1.5).abs() < 1e-6);
}

#[test]
fn forward_reports_the_penalty_as_a_term() {
    let device = Device::flex();
    let model = SparseAutoencoderConfig::new().init(&device);
    let x = Tensor::random([4, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let out = model.forward(x);
    let names: Vec<_> = out.terms.iter().map(|t| t.name).collect();
    assert_eq!(names, vec!["reconstruction", "sparsity"]);
    let sum: f32 = out
        .terms
        .iter()
        .map(|t| t.value.clone().into_scalar::<f32>())
        .sum();
    assert!((out.loss.into_scalar::<f32>() - sum).abs() < 1e-6);
    // KL needs a sigmoid code: values in (0, 1).
    let codes = out.latent;
    assert!(codes.clone().min().into_scalar::<f32>() > 0.0);
    assert!(codes.clone().max().into_scalar::<f32>() < 1.0);
    let stats = model.stats(codes);
    assert!(stats.mean_activation > 0.0 && stats.mean_activation < 1.0);
    assert!((0.0..=1.0).contains(&stats.inactive_fraction));
}

#[test]
fn invalid_targets_are_rejected_and_saves_round_trip() {
    let device = Device::flex();
    let bad = SparseAutoencoderConfig::new().with_penalty(SparsityPenalty::Kl {
        weight: 1.0,
        target: 1.5,
    });
    assert!(bad.try_init(&device).is_err());
    let model = SparseAutoencoderConfig::new()
        .with_penalty(SparsityPenalty::L1 { weight: 1e-3 })
        .init(&device);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = SparseAutoencoder::load(dir.path(), &device).unwrap();
    let x = Tensor::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    model
        .reconstruct(x.clone())
        .into_data()
        .assert_eq(&loaded.reconstruct(x).into_data(), true);
}
