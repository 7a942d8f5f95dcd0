//! This workspace's CPU kernels, for `f32` tensors on `flex` (with or without autodiff).
//!
//! - [`scalar`]: the element-wise functions on one value (`exp`, `sigmoid`, `tanh`, BCE with
//!   logits, their slopes), branch-free so that LLVM vectorises loops over them.
//! - [`kernels`]: those functions over slices, compiled for AVX-512, AVX2+FMA and the baseline and
//!   picked at run time, on several threads for large tensors; the fused Adam update.
//! - [`convolution`]: 2-D convolutions and transposed convolutions as im2col + `gemm`, with their
//!   backward passes.
//! - [`dense`]: dense layers as one `gemm` into a buffer the bias initialises, and their backward
//!   pass.
//! - [`matrix`]: the matrix products and buffers the layers share.
//! - [`CpuKernels`]: all of them as a Burn backend extension of `Flex`, and of autodiff over
//!   it with this workspace's backward passes (`autodiff.rs`, their arithmetic in
//!   `gradients.rs`); with the `remote` feature also of the remote backend, whose servers run
//!   them (`ops::remote`).

mod autodiff;
pub mod convolution;
pub mod dense;
mod extension;
pub(crate) mod gradients;
pub mod kernels;
pub mod matrix;
pub mod scalar;

#[cfg(feature = "remote")]
pub(crate) use autodiff::KernelHost;
pub use extension::CpuKernels;
pub(crate) use extension::adam_update;
#[cfg(feature = "remote")]
pub(crate) use extension::{conv_transpose2d_geometry, conv2d_geometry};
