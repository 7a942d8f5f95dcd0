//! Classification with autoencoders, the four ways: the codes of a trained autoencoder as
//! features for a separate classifier (frozen encoder: [`encode_all`] + [`train_logistic`] or
//! [`knn_accuracy`]; a VAE gives its posterior means), the encoder fine-tuned with a new softmax
//! head, and the encoder trained jointly on reconstruction and classification
//! ([`EncoderClassifier`], [`train_encoder_classifier`]) — each against the same classifier on
//! raw pixels or PCA codes, with few labels.

mod features;
mod fine_tune;

pub use features::{
    MAX_CLASSES, check_classes, encode_all, knn_accuracy, labelled_subset, linear_accuracy,
    standardize, train_logistic,
};
pub use fine_tune::{
    ClassifierProgress, EncoderClassifier, EncoderClassifierConfig, train_encoder_classifier,
};
#[cfg(all(test, feature = "flex"))]
mod tests;
