use super::*;
use crate::autoencoder::Autoencoder;
use crate::conv::ConvAutoencoderConfig;
use crate::corruption::Corruption;
use crate::persist::SavedModel;
use burn::tensor::{Device, Distribution, Tensor};

#[test]
fn forward_scores_a_noisy_input_against_the_clean_target() {
    let device = Device::flex();
    let model = DenoisingAutoencoderConfig::new().init(&device);
    let x = Tensor::random([4, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let out = model.forward(x.clone());
    // The loss is the MSE to the clean images, of the reconstruction of a noisy copy.
    let by_hand = (out.reconstruction.clone() - x.clone()).square().mean();
    assert!((out.loss.into_scalar::<f32>() - by_hand.into_scalar::<f32>()).abs() < 1e-6);
    // Reconstructing the clean input differs from reconstructing a corrupted one.
    let clean = model.reconstruct(x).into_data();
    assert_ne!(clean, out.reconstruction.into_data());
}

#[test]
fn conv_base_round_trips() {
    let device = Device::flex();
    let config = DenoisingAutoencoderConfig::new()
        .with_base(DenoisingBaseConfig::Conv(ConvAutoencoderConfig::new()))
        .with_corruption(Corruption::Masking { fraction: 0.5 });
    let model = config.init(&device);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = DenoisingAutoencoder::load(dir.path(), &device).unwrap();
    let x = Tensor::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    model
        .reconstruct(x.clone())
        .into_data()
        .assert_eq(&loaded.reconstruct(x).into_data(), true);
}
