//! Matrices in slices and their product through gemm (its AVX-512 micro-kernels where the CPU
//! has them), for the convolution and dense-layer kernels.

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
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
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
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "matmul: inner dimensions differ");
    assert!(
        out.len() >= m * n && lhs.fits() && rhs.fits(),
        "matmul: out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: every element gemm reads or writes is inside the slices (checked above), and `out`
    // does not alias `lhs` or `rhs` (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
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
