use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use crate::error::{ModelError, Result};
use crate::limits::{check_parameters, check_width};

/// Configuration of an [`AutoRec`](crate::AutoRec) model. For item-based AutoRec (I-AutoRec, the
/// better of the paper's two), each input is one item's ratings by every user, so `num_inputs` is
/// the number of users.
#[derive(Config, Debug)]
pub struct AutoRecConfig {
    /// Length of a rating vector (users, for item-based AutoRec).
    pub num_inputs: usize,
    /// Hidden units (the paper uses 500).
    #[config(default = 500)]
    pub hidden: usize,
    /// Activation of the hidden layer (the paper: sigmoid).
    #[config(default = "ActivationConfig::Sigmoid")]
    pub hidden_activation: ActivationConfig,
    /// Weight of the L2 penalty `weight_decay / 2 * (|W|^2 + |V|^2)` added to the masked mean
    /// squared error. (The paper adds `lambda / 2 * (...)` to a *sum* of squared errors; divide
    /// its lambda by the number of observed ratings in a batch to compare.)
    #[config(default = 1e-3)]
    pub weight_decay: f64,
    /// Smallest rating: predictions are clamped to `[min_rating, max_rating]`.
    #[config(default = 1.0)]
    pub min_rating: f64,
    /// Largest rating.
    #[config(default = 5.0)]
    pub max_rating: f64,
}

impl AutoRecConfig {
    /// Checks that the configuration describes a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, message: String| Err(ModelError::InvalidConfig { field, message });
        check_width("num_inputs", self.num_inputs)?;
        check_width("hidden", self.hidden)?;
        let (n, h) = (self.num_inputs as u128, self.hidden as u128);
        check_parameters(2 * n * h + n + h)?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return invalid("weight_decay", format!("{} is not >= 0", self.weight_decay));
        }
        if self.min_rating.partial_cmp(&self.max_rating) != Some(std::cmp::Ordering::Less) {
            return invalid(
                "min_rating",
                format!(
                    "{} is not below max_rating {}",
                    self.min_rating, self.max_rating
                ),
            );
        }
        Ok(())
    }
}
