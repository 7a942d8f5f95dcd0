//! Adam's state of a captured step as Burn's own optimizer record, and back: one `AdamState` per
//! parameter, named by the parameter's id, in the burnpack format `ModuleOptimizer::to_record`
//! writes (burn-optim's record keeps its fields to itself, so it is written and read through
//! `burn-pack`). A captured run's checkpoints therefore resume ordinary runs and the other way
//! round.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{
    AdamState, AdaptiveMomentumState, OptimizerRecord, RecordState, StateSink, StateSource,
};
use burn::tensor::{Device, Tensor, TensorData};

use super::captured_step::AdamMoments;
use crate::error::{Result, TrainError};

/// Adam's state after `steps` steps with these `moments`, as Burn's optimizer record: what
/// `ModuleOptimizer::to_record` writes for a [`FusedAdam`](super::FusedAdam) or Burn's `Adam`
/// (one `AdamState` per parameter, named by the parameter's id), so checkpoints of captured and
/// ordinary runs are interchangeable.
pub(crate) fn adam_record<M: Module>(
    model: &M,
    moments: &AdamMoments,
    steps: usize,
) -> Result<OptimizerRecord> {
    struct Flatten<'a> {
        moments: &'a AdamMoments,
        steps: usize,
        tensors: Vec<burn_pack::Tensor>,
        scalars: BTreeMap<String, burn_pack::Scalar>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some((first, second)) = self.moments.get(&param.id) else {
                return;
            };
            let shape = param.val().shape();
            let state = AdamState::<D>::new(AdaptiveMomentumState::new(
                self.steps,
                first.clone().reshape(shape.clone()),
                second.clone().reshape(shape),
            ));
            let id = param.id.val();
            let prefix = id.to_string();
            let mut sink = StateSink::default();
            state.state_flatten(&prefix, &mut sink);
            // The rank under burn-optim's `__rank` key, as `ModuleOptimizer::to_record` does.
            self.scalars
                .insert(format!("{prefix}.__rank"), burn_pack::Scalar::from(D));
            self.scalars.extend(sink.scalars);
            for (name, data) in sink.tensors {
                let (bytes, shape, dtype) = data.into_parts();
                self.tensors
                    .push(burn_pack::Tensor::new(name, dtype, shape, Some(id), bytes));
            }
        }
    }
    let mut flatten = Flatten {
        moments,
        steps,
        tensors: Vec::new(),
        scalars: BTreeMap::new(),
    };
    model.visit(&mut flatten);
    let mut writer = burn_pack::Writer::new(flatten.tensors);
    for (key, value) in &flatten.scalars {
        writer = writer.with_scalar(key, *value);
    }
    let bad = |message: String| TrainError::InvalidArgument {
        what: "capture",
        message: format!("Adam's state could not be written as an optimizer record: {message}"),
    };
    let bytes = writer.into_bytes().map_err(|e| bad(e.to_string()))?;
    OptimizerRecord::from_bytes(bytes).map_err(|e| bad(e.to_string()))
}

/// Adam's moments (flattened, on `device`) and step count from an optimizer checkpoint of
/// `model`'s run.
pub(crate) fn read_adam_state<M: Module>(
    path: &Path,
    model: &M,
    device: &Device,
) -> Result<(AdamMoments, usize)> {
    let bad = |message: String| TrainError::BadCheckpoint {
        path: path.to_path_buf(),
        message,
    };
    let reader = burn_pack::Reader::from_file(path).map_err(|e| bad(e.to_string()))?;
    let mut source = StateSource::new(reader.scalars().clone());
    // Every tensor's shape, checked against its parameter's before Burn builds it (a tensor of
    // another rank would panic there).
    let mut shapes = BTreeMap::new();
    for tensor in reader.into_tensors().map_err(|e| bad(e.to_string()))? {
        let (name, dtype, shape, _, bytes) = tensor.into_parts().map_err(|e| bad(e.to_string()))?;
        let data = TensorData::from_bytes(bytes, shape, dtype);
        shapes.insert(name.clone(), data.shape().to_vec());
        source.insert_tensor(name, data);
    }
    struct Unflatten<'a> {
        source: StateSource,
        shapes: BTreeMap<String, Vec<usize>>,
        device: &'a Device,
        moments: AdamMoments,
        steps: Vec<usize>,
        misfits: Vec<String>,
    }
    impl ModuleVisitor for Unflatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let prefix = param.id.val().to_string();
            let dims = param.val().dims().to_vec();
            let under = format!("{prefix}.");
            if let Some((name, shape)) = self
                .shapes
                .iter()
                .filter(|(name, _)| name.starts_with(&under))
                .find(|(_, shape)| **shape != dims)
            {
                self.misfits
                    .push(format!("{name} is {shape:?}; its parameter is {dims:?}"));
                return;
            }
            let Some(state) =
                AdamState::<D>::state_unflatten(&prefix, &mut self.source, self.device)
            else {
                return;
            };
            let momentum = state.momentum;
            let n = param.val().shape().num_elements();
            let flat = |t: Tensor<D>| t.reshape([n]);
            self.steps.push(momentum.time);
            self.moments
                .insert(param.id, (flat(momentum.moment_1), flat(momentum.moment_2)));
        }
    }
    let mut unflatten = Unflatten {
        source,
        shapes,
        device,
        moments: AdamMoments::new(),
        steps: Vec::new(),
        misfits: Vec::new(),
    };
    model.visit(&mut unflatten);
    if let Some(misfit) = unflatten.misfits.first() {
        return Err(bad(format!("it does not fit this model: {misfit}")));
    }
    if unflatten.moments.is_empty() {
        return Err(bad(
            "it holds no Adam state for this model's parameters (another model's, or another \
             optimizer's)"
                .into(),
        ));
    }
    let steps = unflatten.steps.iter().copied().max().unwrap_or(0);
    if unflatten.steps.iter().any(|&s| s != steps) {
        return Err(bad(format!(
            "its parameters were stepped {:?} times; a captured run steps them all together",
            unflatten.steps
        )));
    }
    Ok((unflatten.moments, steps))
}
