//! Adam with the update of each parameter fused into one CPU kernel.

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{Device, Tensor};

use ae_models::ops::{AdamStep, adam_update};

/// The optimizer that `fit` and the benchmarks use for an [`AdamConfig`]: [`FusedAdam`] when the
/// configuration has no weight decay, AMSGrad or gradient clipping, else Burn's own Adam.
pub fn adam_optimizer(config: &AdamConfig) -> ModuleOptimizer {
    match FusedAdam::new(config) {
        Some(fused) => ModuleOptimizer::from(fused),
        None => config.init(),
    }
}

/// Burn's Adam with the same state (checkpoints are interchangeable) and the same arithmetic,
/// whose update of a parameter on the CPU (`flex`, `f32`) is one pass of
/// [`ae_models::ops::adam_update`] instead of a dozen tensor operations. On every other backend
/// it is Burn's Adam.
#[derive(Clone)]
pub struct FusedAdam {
    adam: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// The fused optimizer for `config`, or `None` when the configuration asks for something
    /// the kernel does not do (weight decay, AMSGrad, gradient clipping).
    pub fn new(config: &AdamConfig) -> Option<Self> {
        // AdamConfig keeps its fields private; its serialised form names them.
        let fields = serde_json::to_value(config).ok()?;
        let number = |name: &str| fields.get(name)?.as_f64().map(|v| v as f32);
        let unset = |name: &str| fields.get(name).is_none_or(serde_json::Value::is_null);
        let plain = fields.get("amsgrad")?.as_bool() == Some(false)
            && unset("weight_decay")
            && unset("grad_clipping");
        if !plain {
            return None;
        }
        Some(Self {
            adam: config.build(),
            beta_1: number("beta_1")?,
            beta_2: number("beta_2")?,
            epsilon: number("epsilon")?,
        })
    }
}

impl FusedAdam {
    /// The same Adam as a captured step's, at `learning_rate`.
    pub(crate) fn captured(&self, learning_rate: f32) -> super::CapturedAdam {
        super::CapturedAdam {
            learning_rate,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
        }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        // Step t of Adam starts from the moments of step t - 1 (zero before the first).
        let (time, moment_1, moment_2) = match state {
            Some(AdamState { momentum }) => (momentum.time, momentum.moment_1, momentum.moment_2),
            None => (0, grad.zeros_like(), grad.zeros_like()),
        };
        let t = i32::try_from(time + 1).unwrap_or(i32::MAX);
        let correction_2 = (1.0 - self.beta_2.powi(t)).sqrt();
        let step = AdamStep {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            learning_rate: lr as f32,
            moment_1_scale: correction_2 / (1.0 - self.beta_1.powi(t)),
            epsilon: self.epsilon * correction_2,
        };
        match adam_update(tensor, grad, moment_1, moment_2, step) {
            Ok((tensor, moment_1, moment_2)) => {
                let momentum = AdaptiveMomentumState::new(time + 1, moment_1, moment_2);
                (tensor, Some(AdamState::new(momentum)))
            }
            Err(tensors) => {
                let [tensor, grad, moment_1, moment_2] = *tensors;
                let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
                self.adam
                    .step(lr, tensor, grad, Some(AdamState::new(momentum)))
            }
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    /// Five steps of the fused and of Burn's Adam from the same start give the same parameter
    /// and moments.
    #[test]
    fn fused_steps_equal_burns_adam() {
        let device = Device::flex();
        let config = AdamConfig::new().with_epsilon(1e-8);
        let fused = FusedAdam::new(&config).expect("a plain Adam configuration");
        let adam = config.build();
        // Over the parallel threshold, so that the threaded path runs too.
        let start = Tensor::<2>::random([300, 200], Distribution::Uniform(-1.0, 1.0), &device);
        let (mut a, mut b) = (start.clone(), start);
        let (mut state_a, mut state_b) = (None, None);
        for step in 0..5 {
            let grad = Tensor::<2>::random([300, 200], Distribution::Normal(0.0, 1.0), &device)
                .mul_scalar(10f32.powi(step - 2));
            (a, state_a) = fused.step(1e-3, a, grad.clone(), state_a);
            (b, state_b) = adam.step(1e-3, b, grad, state_b);
        }
        let (state_a, state_b) = (state_a.unwrap().momentum, state_b.unwrap().momentum);
        assert_eq!(state_a.time, 5);
        assert_eq!(state_b.time, 5);
        let same = |x: Tensor<2>, y: Tensor<2>| {
            x.into_data()
                .assert_approx_eq::<f32>(&y.into_data(), burn::tensor::Tolerance::relative(1e-6))
        };
        same(a, b);
        same(state_a.moment_1, state_b.moment_1);
        same(state_a.moment_2, state_b.moment_2);
    }

    #[test]
    fn configurations_the_kernel_does_not_do_use_burns_adam() {
        assert!(FusedAdam::new(&AdamConfig::new()).is_some());
        assert!(FusedAdam::new(&AdamConfig::new().with_amsgrad(true)).is_none());
        let decay = burn::optim::decay::WeightDecayConfig::new(1e-4);
        assert!(FusedAdam::new(&AdamConfig::new().with_weight_decay(Some(decay))).is_none());
    }

    /// A parameter that something else still holds (burn-train's learner holds the one it
    /// optimises) keeps its values there; the step returns the updated ones.
    #[test]
    fn a_held_parameter_is_not_changed_under_its_holder() {
        let device = Device::flex();
        let fused = FusedAdam::new(&AdamConfig::new()).unwrap();
        let values = vec![0.5f32, -0.25, 1.0, 0.0];
        let held = Tensor::<1>::from_data(TensorData::new(values.clone(), [4]), &device);
        let grad =
            Tensor::<1>::from_data(TensorData::new(vec![1.0f32, -1.0, 2.0, 0.0], [4]), &device);
        let (updated, _) = fused.step(0.1, held.clone(), grad, None);
        held.into_data()
            .assert_eq(&TensorData::new(values, [4]), true);
        // First Adam step: each value moves by the learning rate against its gradient's sign
        // (by nothing where the gradient is 0).
        let want = TensorData::new(vec![0.4f32, -0.15, 0.9, 0.0], [4]);
        updated
            .into_data()
            .assert_approx_eq::<f32>(&want, burn::tensor::Tolerance::absolute(1e-6));
    }

    /// A parameter whose values are a view that is not contiguous (a transpose) steps like the
    /// same values laid out in order.
    #[test]
    fn non_contiguous_parameters_step_like_contiguous_ones() {
        let device = Device::flex();
        let fused = FusedAdam::new(&AdamConfig::new()).unwrap();
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.1 - 0.5).collect();
        let param = Tensor::<2>::from_data(TensorData::new(values, [3, 4]), &device);
        let grad = Tensor::<2>::ones([4, 3], &device);
        let (transposed, _) = fused.step(0.1, param.clone().transpose(), grad.clone(), None);
        let (direct, _) = fused.step(0.1, param, grad.transpose(), None);
        transposed
            .transpose()
            .into_data()
            .assert_eq(&direct.into_data(), true);
    }
}
