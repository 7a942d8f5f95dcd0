//! 2-D convolutions and transposed convolutions on `f32` slices (NCHW, square kernels, one
//! stride and padding for both axes, no dilation or groups), forward and backward: each image is
//! unrolled into columns (im2col) in a per-thread buffer and multiplied with `gemm`, images in
//! parallel across rayon's threads.

use rayon::prelude::*;

use super::matrix::{Matrix, matmul};

/// How a convolution walks an image: `channels x height x width` in, a `kernel x kernel` window
/// moved by `stride` over the image padded with `padding` zeros, `out_height x out_width`
/// window positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Channels of the image.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Side of the square kernel.
    pub kernel: usize,
    /// Step between windows, both axes.
    pub stride: usize,
    /// Zeros around the image, all four sides.
    pub padding: usize,
    /// Window positions down.
    pub out_height: usize,
    /// Window positions across.
    pub out_width: usize,
}

impl Geometry {
    /// The geometry of a convolution over `channels x height x width` images; the window count is
    /// `(side + 2 padding - kernel) / stride + 1` per axis.
    pub fn new(
        [channels, height, width]: [usize; 3],
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        let positions = |side: usize| (side + 2 * padding).saturating_sub(kernel) / stride + 1;
        Self {
            channels,
            height,
            width,
            kernel,
            stride,
            padding,
            out_height: positions(height),
            out_width: positions(width),
        }
    }

    /// Values in one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Rows of the column matrix: one per channel and kernel position.
    pub fn column_rows(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// Columns of the column matrix: one per window position.
    pub fn positions(&self) -> usize {
        self.out_height * self.out_width
    }

    /// The image row and column that window position `(o, kernel offset)` reads along one axis,
    /// `None` in the padding.
    #[inline]
    fn source(&self, out: usize, offset: usize, side: usize) -> Option<usize> {
        (out * self.stride + offset)
            .checked_sub(self.padding)
            .filter(|&i| i < side)
    }

    /// The window positions `lo..hi` along an axis of `outs` positions whose kernel offset
    /// `offset` falls inside the image (`side` long), and the image index position `lo` reads.
    #[inline]
    fn inside(&self, offset: usize, side: usize, outs: usize) -> (usize, usize, usize) {
        let (s, p) = (self.stride, self.padding);
        // o s + offset - p >= 0  and  o s + offset - p < side
        let lo = p.saturating_sub(offset).div_ceil(s);
        let hi = (side + p).saturating_sub(offset).div_ceil(s).min(outs);
        let lo = lo.min(hi);
        (lo, hi, (lo * s + offset).saturating_sub(p))
    }
}

/// Unrolls `image` (`channels x height x width`) into `columns` (`column_rows x positions`).
pub fn im2col(image: &[f32], g: &Geometry, columns: &mut [f32]) {
    let (k, positions) = (g.kernel, g.positions());
    for (row, column_row) in columns.chunks_exact_mut(positions).enumerate() {
        let (c, ki, kj) = (row / (k * k), row / k % k, row % k);
        let plane = &image[c * g.height * g.width..][..g.height * g.width];
        let (lo, hi, first) = g.inside(kj, g.width, g.out_width);
        for (oh, out) in column_row.chunks_exact_mut(g.out_width).enumerate() {
            let Some(ih) = g.source(oh, ki, g.height) else {
                out.fill(0.0);
                continue;
            };
            let line = &plane[ih * g.width..][..g.width];
            out[..lo].fill(0.0);
            out[hi..].fill(0.0);
            if lo < hi {
                let sources = line[first..].iter().step_by(g.stride);
                for (value, &source) in out[lo..hi].iter_mut().zip(sources) {
                    *value = source;
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every column value into the image position it was read from.
pub fn col2im_add(columns: &[f32], g: &Geometry, image: &mut [f32]) {
    let (k, positions) = (g.kernel, g.positions());
    for (row, column_row) in columns.chunks_exact(positions).enumerate() {
        let (c, ki, kj) = (row / (k * k), row / k % k, row % k);
        let plane = &mut image[c * g.height * g.width..][..g.height * g.width];
        let (lo, hi, first) = g.inside(kj, g.width, g.out_width);
        for (oh, out) in column_row.chunks_exact(g.out_width).enumerate() {
            let Some(ih) = g.source(oh, ki, g.height) else {
                continue;
            };
            let line = &mut plane[ih * g.width..][..g.width];
            if lo < hi {
                let targets = line[first..].iter_mut().step_by(g.stride);
                for (target, &value) in targets.zip(&out[lo..hi]) {
                    *target += value;
                }
            }
        }
    }
}

/// The rows of a convolution's weight matrix (`[rows, g.column_rows()]`): the output channels of
/// a convolution, the input channels of a transposed one.
fn weight_rows(weight: &[f32], g: &Geometry) -> usize {
    weight.len() / g.column_rows().max(1)
}

/// Sums of `values` (`images x channels x positions`) per channel.
fn channel_sums(values: &[f32], channels: usize, positions: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; channels];
    for image in values.chunks_exact(channels * positions) {
        for (sum, plane) in sums.iter_mut().zip(image.chunks_exact(positions)) {
            *sum += plane.iter().sum::<f32>();
        }
    }
    sums
}

/// Images per block of [`weight_gradient`]: a fixed number, so that the sum's order does not
/// depend on the number of threads or on their timing.
const IMAGES_PER_BLOCK: usize = 16;

/// The weight gradient of a convolution layer summed over a batch, and `dx` filled, in a fixed
/// order: `per_image(dweight, columns, (dx, x, dy))` adds one image's term to `dweight` (and
/// writes its `dx`), the images go in blocks of [`IMAGES_PER_BLOCK`], each block on one thread
/// in image order, and the blocks' sums are added in block order. (A rayon `fold` and `reduce`
/// would group the images as work-stealing happens to, and the floating-point sum, and so a
/// training run, would change from one run to the next.) `lens` are the per-image lengths of
/// `dx`, `x` and `dy`; `columns` the length of the per-thread im2col buffer.
fn weight_gradient(
    dx: &mut [f32],
    x: &[f32],
    dy: &[f32],
    lens: [usize; 3],
    weight_len: usize,
    columns: usize,
    per_image: impl Fn(&mut [f32], &mut [f32], (&mut [f32], &[f32], &[f32])) + Sync,
) -> Vec<f32> {
    let [dx_len, x_len, dy_len] = lens.map(|len| len.max(1));
    let blocks: Vec<Vec<f32>> = dx
        .par_chunks_mut(IMAGES_PER_BLOCK * dx_len)
        .zip(x.par_chunks(IMAGES_PER_BLOCK * x_len))
        .zip(dy.par_chunks(IMAGES_PER_BLOCK * dy_len))
        // The im2col buffer is scratch (every use overwrites it), so it is kept between blocks.
        .map_init(
            || vec![0.0f32; columns],
            |columns, ((dx, x), dy)| {
                let mut dweight = vec![0.0f32; weight_len];
                let images = dx
                    .chunks_mut(dx_len)
                    .zip(x.chunks(x_len))
                    .zip(dy.chunks(dy_len));
                for ((dx, x), dy) in images {
                    per_image(&mut dweight, columns, (dx, x, dy));
                }
                dweight
            },
        )
        .collect();
    // Each value summed over the blocks in block order, the values split across the threads.
    let mut sum = vec![0.0f32; weight_len];
    sum.par_chunks_mut(SUM_CHUNK)
        .enumerate()
        .for_each(|(chunk, total)| {
            let start = chunk * SUM_CHUNK;
            for block in &blocks {
                for (total, value) in total.iter_mut().zip(&block[start..]) {
                    *total += value;
                }
            }
        });
    sum
}

/// Weight-gradient values per task when the blocks' sums are added.
const SUM_CHUNK: usize = 4096;

/// Convolution: `y[n] += weight · im2col(x[n])`, where `x` holds images of geometry `g`,
/// `weight` is `[out_channels, column_rows]` (Burn's `[out, in, k, k]`) and `y` is
/// `[images, out_channels, positions]`, holding the bias when called
/// ([`bias_filled`](super::matrix::bias_filled)`(images, bias, positions)`).
pub fn conv2d(x: &[f32], weight: &[f32], g: &Geometry, y: &mut [f32]) {
    let (rows, positions) = (g.column_rows(), g.positions());
    let out_channels = weight_rows(weight, g);
    let weight = Matrix::rows(weight, out_channels, rows);
    y.par_chunks_mut(out_channels * positions)
        .zip(x.par_chunks(g.image_len()))
        .for_each_init(
            || vec![0.0f32; rows * positions],
            |columns, (y, x)| {
                im2col(x, g, columns);
                matmul(
                    y,
                    weight,
                    Matrix::rows(columns, rows, positions),
                    true,
                    false,
                );
            },
        );
}

/// Gradients of [`conv2d`] from `dy` (`[images, out_channels, positions]`): `(dx, dweight,
/// dbias)`, `dx` only when `input_gradient` (a first layer's input, the images, needs none).
pub fn conv2d_backward(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    g: &Geometry,
    input_gradient: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let (rows, positions) = (g.column_rows(), g.positions());
    let out_channels = weight_rows(weight, g);
    let weight = Matrix::rows(weight, out_channels, rows);
    let mut dx = vec![0.0f32; x.len()];
    let lens = [g.image_len(), g.image_len(), out_channels * positions];
    let dweight = weight_gradient(
        &mut dx,
        x,
        dy,
        lens,
        out_channels * rows,
        rows * positions,
        |dweight, columns, (dx, x, dy)| {
            let dy = Matrix::rows(dy, out_channels, positions);
            // dweight += dy · im2col(x)^T
            im2col(x, g, columns);
            matmul(
                dweight,
                dy,
                Matrix::rows(columns, rows, positions).t(),
                true,
                false,
            );
            if input_gradient {
                // dx = col2im(weight^T · dy)
                matmul(columns, weight.t(), dy, false, false);
                col2im_add(columns, g, dx);
            }
        },
    );
    let dbias = channel_sums(dy, out_channels, positions);
    (input_gradient.then_some(dx), dweight, dbias)
}

/// Transposed convolution: `y[n] += col2im(weight^T · x[n])`, where `g` is the geometry of the
/// *output* images (the convolution this one transposes reads them), `x` is `[images,
/// in_channels, g.positions()]`, `weight` is `[in_channels, g.column_rows()]` (Burn's `[in, out,
/// k, k]`) and `y` is `[images, g.image_len()]`, holding the bias when called
/// ([`bias_filled`](super::matrix::bias_filled)`(images, bias, height * width)`).
pub fn conv_transpose2d(x: &[f32], weight: &[f32], g: &Geometry, y: &mut [f32]) {
    let (rows, positions) = (g.column_rows(), g.positions());
    let in_channels = weight_rows(weight, g);
    let weight = Matrix::rows(weight, in_channels, rows);
    y.par_chunks_mut(g.image_len())
        .zip(x.par_chunks(in_channels * positions))
        .for_each_init(
            || vec![0.0f32; rows * positions],
            |columns, (y, x)| {
                matmul(
                    columns,
                    weight.t(),
                    Matrix::rows(x, in_channels, positions),
                    false,
                    false,
                );
                col2im_add(columns, g, y);
            },
        );
}

/// Gradients of [`conv_transpose2d`] from `dy` (`[images, g.image_len()]`): `(dx, dweight,
/// dbias)`, `dx` only when `input_gradient`.
pub fn conv_transpose2d_backward(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    g: &Geometry,
    input_gradient: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let (rows, positions) = (g.column_rows(), g.positions());
    let in_channels = weight_rows(weight, g);
    let weight = Matrix::rows(weight, in_channels, rows);
    let mut dx = vec![0.0f32; x.len()];
    let lens = [
        in_channels * positions,
        in_channels * positions,
        g.image_len(),
    ];
    let dweight = weight_gradient(
        &mut dx,
        x,
        dy,
        lens,
        in_channels * rows,
        rows * positions,
        |dweight, columns, (dx, x, dy)| {
            im2col(dy, g, columns);
            let columns_matrix = Matrix::rows(columns, rows, positions);
            // dx = weight · im2col(dy); dweight += x · im2col(dy)^T
            if input_gradient {
                matmul(dx, weight, columns_matrix, false, false);
            }
            let x = Matrix::rows(x, in_channels, positions);
            matmul(dweight, x, columns_matrix.t(), true, false);
        },
    );
    let dbias = channel_sums(dy, g.channels, g.height * g.width);
    (input_gradient.then_some(dx), dweight, dbias)
}
