//! Evaluation: reconstruction errors and reports, model-specific scores, reading values back
//! from the device, and pictures (labelled PNG grids; loss curves and scatter plots drawn with
//! plotters).

mod models;
mod pictures;
mod plots;
mod readback;
mod reconstruction;
mod roc;

pub use models::{
    DenoisingReport, VaeReport, evaluate_denoising, evaluate_sparsity, evaluate_vae,
    save_vae_interpolations,
};
pub use pictures::{png_bytes, save_image_grid, save_reconstruction_grid};
pub use plots::{ScatterPanel, TAB10, save_loss_curves, save_scatter_panels};
pub use readback::{int_values, read_f64, values};
pub use reconstruction::{
    ReconstructionErrors, ReconstructionReport, check_finite, check_input_shape, errors_of,
    evaluate, image_batches, real_rows, reconstruction_errors,
};
pub use roc::{RocCurve, save_roc_curves};
