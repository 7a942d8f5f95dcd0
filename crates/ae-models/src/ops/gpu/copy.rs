//! Copies into a buffer that already exists: how a captured graph's input is refreshed between
//! replays (a replay reads the buffers the capture read, so new values must land in them).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

#[cube(launch_unchecked)]
fn copy_kernel(source: &[f32], destination: &mut [f32], num_elems: usize) {
    let i = ABSOLUTE_POS;
    if i < num_elems {
        destination[i] = source[i];
    }
}

/// Launches the copy of `source` (contiguous) into `destination` (contiguous), both `f32` with
/// the same number of values.
fn launch_copy(source: CubeTensor, destination: CubeTensor) {
    let num_elems = destination.meta.shape().num_elements();
    if num_elems == 0 {
        return;
    }
    let client = destination.client.clone();
    let (cube_count, cube_dim) = super::elementwise_grid(&client, num_elems);
    // SAFETY: both buffers are contiguous f32 buffers of at least `num_elems` values (the
    // callers make and check them so), and the kernel touches index `ABSOLUTE_POS` only below
    // that.
    unsafe {
        copy_kernel::launch_unchecked(
            &client,
            cube_count,
            cube_dim,
            source.into_buffer_arg(),
            destination.into_buffer_arg(),
            num_elems,
        );
    }
}

/// A copy of `tensor` (`f32`: the caller checks) in a fresh contiguous buffer that nothing
/// else references.
pub(crate) fn fresh_copy(tensor: CubeTensor) -> CubeTensor {
    let tensor = into_contiguous(tensor);
    let copy = empty_device_contiguous_dtype(
        tensor.client.clone(),
        tensor.device.clone(),
        tensor.meta.shape().clone(),
        tensor.dtype,
    );
    launch_copy(tensor, copy.clone());
    copy
}

/// Writes the values of `source` into the buffer of `destination`, which every handle on that
/// buffer then reads: `Err` with `source` unless `destination` is contiguous and both are `f32`
/// of one shape on one device.
pub(crate) fn write_into(
    destination: CubeTensor,
    source: CubeTensor,
) -> Result<(), Box<CubeTensor>> {
    if !super::adam::writable(&destination)
        || destination.meta.shape() != source.meta.shape()
        || destination.dtype != source.dtype
        || destination.device != source.device
    {
        return Err(Box::new(source));
    }
    launch_copy(into_contiguous(source), destination);
    Ok(())
}
