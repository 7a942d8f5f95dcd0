//! Matrices in slices and their product through gemm (its AVX-512 micro-kernels where the CPU
//! has them), for the convolution and dense-layer kernels, and the bias-initialised buffers
//! those layers accumulate their products onto.

use super::kernels;

/// Products of at least this many multiply-adds (`m n k`) run on rayon's threads: flex's own
/// threshold for its matmul (192^3), so the split is the one it made before.
pub const PARALLEL_PRODUCT: usize = 192 * 192 * 192;

/// A matrix in a slice: `rows x cols`, element `(i, j)` at `i * row_stride + j * col_stride`.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `data` as a row-major `rows x cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// `data` as a `rows x cols` matrix with element `(i, j)` at `i * row_stride + j *
    /// col_stride` (a transposed or sliced view of a larger matrix).
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `out = lhs rhs`, or `out += lhs rhs` when `accumulate`; `out` is row-major `lhs.rows x
/// rhs.cols`. On one thread, or on rayon's threads when `parallel` (the convolutions
/// parallelise over images instead).
///
/// # Panics
/// If the shapes do not chain or a matrix does not fit its slice.
pub fn matmul(out: &mut [f32], lhs: Matrix, rhs: Matrix, accumulate: bool, parallel: bool) {
    check_product(out.len(), lhs, rhs);
    // SAFETY: checked above; `out` does not alias `lhs` or `rhs` (it is borrowed mutably).
    unsafe { gemm_into(out.as_mut_ptr(), lhs, rhs, accumulate, parallel) }
}

/// `lhs rhs` in a new row-major `lhs.rows x rhs.cols` buffer, written once by gemm (no zeroing
/// first: without `accumulate` gemm writes every value and reads none). On rayon's threads when
/// `parallel`.
///
/// # Panics
/// If the shapes do not chain or a matrix does not fit its slice.
pub fn product(lhs: Matrix, rhs: Matrix, parallel: bool) -> Vec<f32> {
    let len = lhs.rows * rhs.cols;
    if lhs.cols == 0 {
        check_product(len, lhs, rhs);
        return vec![0.0; len];
    }
    kernels::collect(len, |out| {
        check_product(out.len(), lhs, rhs);
        // SAFETY: checked above; gemm only writes `out` (through the pointer, every value of it,
        // as the inner dimension is not empty) and does not read it; `out` is a new buffer.
        unsafe { gemm_into(out.as_mut_ptr().cast::<f32>(), lhs, rhs, false, parallel) }
    })
}

/// Panics unless `lhs rhs` chains and fits its slices and an output of `out_len` values.
fn check_product(out_len: usize, lhs: Matrix, rhs: Matrix) {
    assert_eq!(rhs.rows, lhs.cols, "matmul: inner dimensions differ");
    assert!(
        out_len >= lhs.rows * rhs.cols && lhs.fits() && rhs.fits(),
        "matmul: out of bounds"
    );
}

/// gemm of `lhs rhs` into the row-major `out`, added to it when `accumulate`.
///
/// # Safety
/// `out` must be valid for writes (and reads, when `accumulate`) of `lhs.rows * rhs.cols`
/// values, alias neither operand, and the operands must fit their slices.
unsafe fn gemm_into(out: *mut f32, lhs: Matrix, rhs: Matrix, accumulate: bool, parallel: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: as this function's contract says.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out,
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            if parallel {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

/// A new `[groups, bias.len(), run]` row-major buffer whose every run of `run` values holds one
/// bias value: a layer's output before its product is accumulated onto it (written once, with
/// no zeroing pass first). A convolution's output is `(images, bias, positions)`.
pub fn bias_filled(groups: usize, bias: &[f32], run: usize) -> Vec<f32> {
    kernels::collect(groups * bias.len() * run, |out| {
        fill_bias(out, bias, run);
    })
}

/// Writes `bias` into `out`, `[groups, bias.len(), run]` row-major (every run of `run` values
/// holds one bias value; a dense layer's rows are runs of one), and returns it, now initialised.
pub fn fill_bias<'a>(out: &'a mut [kernels::Out], bias: &[f32], run: usize) -> &'a mut [f32] {
    let group = bias.len() * run;
    assert!(
        out.len().is_multiple_of(group),
        "an output of another size than the bias repeated"
    );
    for group in out.chunks_exact_mut(group.max(1)) {
        if run == 1 {
            // A dense layer's row: one loop over the values (runs of one value each would cost
            // an iterator step per value and stop vectorisation).
            for (value, &b) in group.iter_mut().zip(bias) {
                value.write(b);
            }
        } else {
            for (values, &b) in group.chunks_exact_mut(run).zip(bias) {
                for value in values {
                    value.write(b);
                }
            }
        }
    }
    // SAFETY: every value of `out` was written above (its length is a multiple of a group's),
    // and `MaybeUninit<f32>` has the layout of `f32`.
    unsafe { &mut *(out as *mut [kernels::Out] as *mut [f32]) }
}
