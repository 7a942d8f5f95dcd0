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
//! - [`CpuKernels`]: all of them as a Burn backend extension of `Flex`, and of `Autodiff<Flex>`
//!   with this workspace's backward passes (`autodiff.rs`).

mod autodiff;
pub mod convolution;
pub mod dense;
mod extension;
pub mod kernels;
pub mod matrix;
pub mod scalar;

pub use extension::CpuKernels;
pub(crate) use extension::adam_update;
