//! The applications of a trained autoencoder: anomaly scores, classification from codes,
//! compressed code files, imputation, PCA as the linear baseline, recommendations from ratings,
//! and sentence reconstructions and neighbours.

pub mod anomaly;
pub mod classify;
pub mod codes;
pub mod impute;
pub mod pca;
pub mod recommend;
pub mod text;
