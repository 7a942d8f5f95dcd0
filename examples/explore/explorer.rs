//! What the page shows, computed once at start and per request: the test set's codes and their
//! 2-D map, the anomaly scores, and decoding, encoding, sampling and interpolation.

use burn::tensor::{Device, Tensor, TensorData};

use autoencoders::data::ImageDataset;
use autoencoders::models::{AnyAutoencoder, Autoencoder, per_image_mse};
use autoencoders::train::pca::Pca;
use autoencoders::train::{Result, TrainError, image_batches, real_rows, values};

/// Largest images the page handles (pixels of one image, all channels).
pub const MAX_PIXELS: usize = 3 * 128 * 128;
/// Most images one request may ask for (samples, interpolation steps).
pub const MAX_IMAGES: usize = 64;
/// Batch size of the start-up pass over the test set.
const BATCH: usize = 256;

/// How the codes are drawn on the map.
enum Projection {
    /// The code is 2-D: drawn as it is.
    Identity,
    /// The first two principal components of the test set's codes.
    Pca(Box<Pca>),
}

/// A trained model and the test images it is explored with.
pub struct Explorer {
    /// What the page shows as the model's name.
    pub name: String,
    model: AnyAutoencoder,
    device: Device,
    test: ImageDataset,
    projection: Projection,
    /// The map: one (x, y) per test image.
    points: Vec<[f32; 2]>,
    /// Per-image reconstruction MSE of the test images.
    scores: Vec<f32>,
    /// The scores, sorted (percentiles).
    sorted_scores: Vec<f32>,
    /// The axes' names.
    axes: [String; 2],
}

/// One image as the page draws it: bytes 0-255, channels first.
pub type Pixels = Vec<u8>;

/// What encoding a drawn image gives.
pub struct Encoded {
    /// Its code.
    pub code: Vec<f32>,
    /// Where it falls on the map.
    pub point: [f32; 2],
    /// Its reconstruction.
    pub reconstruction: Pixels,
    /// Its reconstruction MSE: the anomaly score.
    pub score: f32,
    /// The share of test images that score lower, in percent.
    pub percentile: f64,
}

fn to_pixels(values: &[f32]) -> Pixels {
    values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

impl Explorer {
    /// Encodes and scores every test image (the first `limit`) and fits the map.
    ///
    /// # Errors
    /// When the model does not take the images, or a read-back fails.
    pub fn new(
        name: String,
        model: AnyAutoencoder,
        test: ImageDataset,
        limit: usize,
        device: Device,
    ) -> Result<Self> {
        if test.count() < 2 {
            return Err(TrainError::InvalidArgument {
                what: "data",
                message: format!(
                    "the test split holds {} image(s); the map needs at least 2: give a \
                     dataset with more test images",
                    test.count()
                ),
            });
        }
        let test = test.take(limit);
        autoencoders::train::check_input_shape(&model, &test)?;
        if test.count() < 2 {
            return Err(TrainError::InvalidArgument {
                what: "--limit",
                message: "the map needs at least 2 test images".into(),
            });
        }
        let (mut codes, mut scores) = (Vec::new(), Vec::new());
        for batch in image_batches(&test, BATCH, &device) {
            // One encoding gives both the code and, decoded, the score.
            let code = model.encode(batch.images.clone());
            let errors = per_image_mse(model.decode(code.clone()), batch.images);
            let mut code = values(code)?;
            code.truncate(batch.rows * model.latent_dim());
            codes.extend(code);
            scores.extend(real_rows(errors, batch.rows)?);
        }
        let latent = model.latent_dim();
        let codes_tensor = Tensor::<2>::from_data(
            TensorData::new(codes.clone(), [test.count(), latent]),
            &device,
        );
        let (projection, axes) = if latent == 2 {
            (Projection::Identity, ["z 1".to_string(), "z 2".to_string()])
        } else {
            let pca = Pca::fit(codes_tensor.clone(), 2)?;
            let share =
                |i: usize| 100.0 * pca.explained_variance[i] / pca.total_variance.max(1e-30);
            let axes = [
                format!("PC 1 of the codes ({:.0}% of their variance)", share(0)),
                format!("PC 2 ({:.0}%)", share(1)),
            ];
            (Projection::Pca(Box::new(pca)), axes)
        };
        let flat = values(project(&projection, codes_tensor))?;
        let points = flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        let mut sorted_scores = scores.clone();
        sorted_scores.sort_by(f32::total_cmp);
        Ok(Self {
            name,
            model,
            device,
            test,
            projection,
            points,
            scores,
            sorted_scores,
            axes,
        })
    }

    /// The model.
    pub fn model(&self) -> &AnyAutoencoder {
        &self.model
    }

    /// The test images.
    pub fn test(&self) -> &ImageDataset {
        &self.test
    }

    /// The map's points, one per test image.
    pub fn points(&self) -> &[[f32; 2]] {
        &self.points
    }

    /// The test images' anomaly scores.
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }

    /// The axes' names.
    pub fn axes(&self) -> &[String; 2] {
        &self.axes
    }

    /// Whether the map is PCA of the codes (else the codes themselves).
    pub fn is_pca(&self) -> bool {
        matches!(self.projection, Projection::Pca(_))
    }

    /// Whether the model can sample (a VAE).
    pub fn can_sample(&self) -> bool {
        matches!(self.model, AnyAutoencoder::Vae(_))
    }

    /// Pixels per image.
    pub fn numel(&self) -> usize {
        self.test.shape().numel()
    }

    /// Decodes the map point (x, y): the code it stands for (for PCA, the codes' mean plus x and
    /// y along the two components).
    pub fn decode_point(&self, point: [f32; 2]) -> Result<Pixels> {
        let xy = Tensor::<2>::from_data(TensorData::new(point.to_vec(), [1, 2]), &self.device);
        let code = match &self.projection {
            Projection::Identity => xy,
            Projection::Pca(pca) => pca.inverse_transform(xy),
        };
        Ok(to_pixels(&values(self.model.decode(code))?))
    }

    /// Encodes one image given as `[0, 1]` values (channels first).
    ///
    /// # Errors
    /// When the values are not one image of the model's shape, or not in `[0, 1]`.
    pub fn encode(&self, image: &[f32]) -> Result<Encoded> {
        let [c, h, w] = self.model.input_shape();
        let invalid = |message: String| TrainError::InvalidArgument {
            what: "pixels",
            message,
        };
        if image.len() != c * h * w {
            return Err(invalid(format!(
                "{} values given; the model takes {c}x{h}x{w} = {} (channels first)",
                image.len(),
                c * h * w
            )));
        }
        if let Some(bad) = image.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(invalid(format!(
                "value {bad} is {}; pixels are between 0 and 1",
                image[bad]
            )));
        }
        let images =
            Tensor::<4>::from_data(TensorData::new(image.to_vec(), [1, c, h, w]), &self.device);
        let code = self.model.encode(images.clone());
        let reconstruction = self.model.decode(code.clone());
        let score = per_image_mse(reconstruction.clone(), images);
        let point = values(project(&self.projection, code.clone()))?;
        let score = values(score)?.first().copied().unwrap_or(f32::NAN);
        let below = self.sorted_scores.partition_point(|s| *s < score);
        Ok(Encoded {
            code: values(code)?,
            point: [point[0], point[1]],
            reconstruction: to_pixels(&values(reconstruction)?),
            score,
            percentile: 100.0 * below as f64 / self.sorted_scores.len().max(1) as f64,
        })
    }

    /// `n` samples from the prior (a VAE), with `seed`.
    ///
    /// # Errors
    /// When the model is not a VAE.
    pub fn samples(&self, n: usize, seed: u64) -> Result<Vec<Pixels>> {
        let AnyAutoencoder::Vae(vae) = &self.model else {
            return Err(TrainError::InvalidArgument {
                what: "samples",
                message: format!(
                    "{} is not a variational autoencoder: it has no prior to sample",
                    self.name
                ),
            });
        };
        self.device.seed(seed);
        let images = values(vae.sample(n, &self.device))?;
        Ok(images.chunks_exact(self.numel()).map(to_pixels).collect())
    }

    /// The decoded straight line between the codes of test images `a` and `b`, ends included.
    ///
    /// # Errors
    /// When an index is not a test image.
    pub fn interpolate(&self, a: usize, b: usize, steps: usize) -> Result<Vec<Pixels>> {
        for index in [a, b] {
            if index >= self.test.count() {
                return Err(TrainError::InvalidArgument {
                    what: "image",
                    message: format!(
                        "{index} is not a test image (there are {})",
                        self.test.count()
                    ),
                });
            }
        }
        let pair = self.test.batch_of(&[a, b], &self.device).images;
        let codes = self.model.encode(pair);
        let latent = self.model.latent_dim();
        let (za, zb) = (
            codes.clone().slice([0..1, 0..latent]),
            codes.slice([1..2, 0..latent]),
        );
        let t: Vec<f32> = (0..steps)
            .map(|i| i as f32 / (steps - 1).max(1) as f32)
            .collect();
        let t = Tensor::<2>::from_data(TensorData::new(t, [steps, 1]), &self.device);
        let line = za.clone() + (zb - za) * t;
        let images = values(self.model.decode(line))?;
        Ok(images.chunks_exact(self.numel()).map(to_pixels).collect())
    }
}

fn project(projection: &Projection, codes: Tensor<2>) -> Tensor<2> {
    match projection {
        Projection::Identity => codes,
        Projection::Pca(pca) => pca.transform(codes),
    }
}
