//! This workspace's GPU kernels, written in CubeCL: they run on every CubeCL runtime Burn's GPU
//! backends use (wgpu's WGSL, Vulkan's SPIR-V, Metal, CUDA).
//!
//! - [`adam_update`]: Adam's update of a parameter as one launch (Burn's `Adam`: about 13).
//! - `write_into`, `fresh_copy`, `adam_update_in_place` (through [`crate::ops`], which checks
//!   their inputs): a copy into an existing buffer (a captured graph's input) or a fresh one, and
//!   Adam's step written in place (a captured training step).
//! - [`GpuKernels`]: ReLU, the sigmoid, the squared error, binary cross-entropy with logits and
//!   the VAE's KL terms as one launch forward and one backward (per input) each, from the kept
//!   output or inputs (Burn's: two to seven each way).
//!
//! Built when a GPU backend is compiled in without Burn's `fusion` feature. With `fusion`, Burn
//! fuses these element-wise chains on its own, so the public functions of [`crate::ops`] use
//! Burn's operations there.

mod adam;
mod copy;
mod extension;
pub(crate) mod kernels;

pub use adam::adam_update;
pub(crate) use adam::adam_update_in_place;
pub(crate) use copy::{fresh_copy, write_into};
pub use extension::GpuKernels;
pub(crate) use kernels::accumulate;

/// The backend these kernels take their tensors from (the unfused CubeCL backend).
pub use burn_cubecl::CubeBackend;

/// Whether the device of `tensor` has TF32 tensor cores: the test cubek's matmul makes before
/// it runs an `f32` product in TF32 on them (`adjust_dtypes`; CUDA on Ampere and later).
/// `false` for a tensor of another backend.
pub fn supports_tf32(tensor: burn::tensor::Tensor<1>) -> bool {
    use burn_cubecl::cubecl::prelude::{Scalar, tf32};
    tensor.try_into_primitive::<CubeBackend>().is_ok_and(|t| {
        t.client
            .properties()
            .supports_type(tf32::elem_type_native())
    })
}

/// The grid of an element-wise launch over `num_elems` values, one unit per value: what every
/// kernel of this module launches with but the running sum's single unit.
fn elementwise_grid(
    client: &burn_cubecl::cubecl::client::Client,
    num_elems: usize,
) -> (
    burn_cubecl::cubecl::prelude::CubeCount,
    burn_cubecl::cubecl::prelude::CubeDim,
) {
    let cube_dim = burn_cubecl::cubecl::prelude::CubeDim::new(client, num_elems);
    let cube_count =
        burn_cubecl::cubecl::calculate_cube_count_elemwise(client, num_elems, cube_dim);
    (cube_count, cube_dim)
}
