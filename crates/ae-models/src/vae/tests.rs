use super::*;
use crate::autoencoder::Autoencoder;
use crate::persist::SavedModel;
use burn::tensor::{Device, Distribution, Tensor};

fn images(n: usize, device: &Device) -> Tensor<4> {
    Tensor::random([n, 1, 28, 28], Distribution::Uniform(0.0, 1.0), device)
}

#[test]
fn pytorch_example_shapes() {
    let device = Device::flex();
    let model = VaeConfig::new().init(&device);
    assert_eq!(model.mean.weight.dims(), [400, 20]);
    let out = model.forward(images(3, &device));
    assert_eq!(out.reconstruction.dims(), [3, 1, 28, 28]);
    assert_eq!(out.latent.dims(), [3, 20]);
    let terms: Vec<f32> = out
        .terms
        .iter()
        .map(|t| t.value.clone().into_scalar::<f32>())
        .collect();
    assert!(terms.iter().all(|v| v.is_finite() && *v > 0.0), "{terms:?}");
    assert!((out.loss.into_scalar::<f32>() - terms.iter().sum::<f32>()).abs() < 1e-3);
    assert_eq!(model.sample(5, &device).dims(), [5, 1, 28, 28]);
    let strip = model.interpolate(images(1, &device), images(1, &device), 7);
    assert_eq!(strip.dims(), [7, 1, 28, 28]);

    let conv = VaeConfig::new()
        .with_architecture(VaeArchitecture::Conv {
            channels: vec![32, 64],
            kernel_size: 3,
        })
        .init(&device);
    let out = conv.forward(images(2, &device));
    assert_eq!(out.reconstruction.dims(), [2, 1, 28, 28]);
    assert!(out.loss.into_scalar::<f32>().is_finite());
}

#[test]
fn kl_is_zero_for_the_standard_normal_and_known_otherwise() {
    let device = Device::flex();
    let zero = Posterior {
        mean: Tensor::zeros([2, 5], &device),
        logvar: Tensor::zeros([2, 5], &device),
    };
    let kl = VariationalAutoencoder::kl_divergence(&zero)
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    assert_eq!(kl, vec![0.0, 0.0]);
    // mean 1, logvar 0 in each of 5 dimensions: 0.5 * 5 * 1 = 2.5.
    let shifted = Posterior {
        mean: Tensor::ones([1, 5], &device),
        logvar: Tensor::zeros([1, 5], &device),
    };
    let kl = VariationalAutoencoder::kl_divergence(&shifted).into_scalar::<f32>();
    assert!((kl - 2.5).abs() < 1e-6);
}

#[test]
fn importance_weighting_tightens_the_bound() {
    let device = Device::flex();
    device.seed(5);
    let model = VaeConfig::new().with_latent_dim(4).init(&device);
    let x = images(16, &device);
    let mean_ll = |k| {
        model
            .importance_weighted_log_likelihood(x.clone(), k)
            .mean()
            .into_scalar::<f64>()
    };
    let one = mean_ll(1);
    let many = mean_ll(64);
    // k = 1 is the ELBO in expectation; more samples give a higher (tighter) bound.
    assert!(one.is_finite() && many.is_finite());
    assert!(many > one, "IWAE(64) {many} <= ELBO estimate {one}");
    // The ELBO estimate agrees with the training loss (the negative ELBO per image).
    let loss = model.forward(x.clone()).loss.into_scalar::<f64>();
    assert!(
        (loss + one).abs() < 0.05 * loss.abs(),
        "loss {loss}, ELBO {one}"
    );
}

#[test]
fn save_then_load_gives_identical_means() {
    let device = Device::flex();
    let model = VaeConfig::new().init(&device);
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = VariationalAutoencoder::load(dir.path(), &device).unwrap();
    let x = images(2, &device);
    model
        .reconstruct(x.clone())
        .into_data()
        .assert_eq(&loaded.reconstruct(x).into_data(), true);
}
