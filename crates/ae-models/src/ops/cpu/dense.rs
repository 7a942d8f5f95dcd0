//! Dense layers on `f32` slices, forward and backward: `y = x w + b` as one gemm into a buffer
//! the bias initialises (Burn's flex computes the product into a zeroed buffer, copies it to
//! realign it, then adds the bias in a third pass).

use rayon::prelude::*;

use super::kernels;
use super::matrix::{Matrix, PARALLEL_PRODUCT, fill_bias, matmul};

/// The shape of a dense layer's product: `x` is `rows x inputs`, `w` is `inputs x outputs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseShape {
    /// Rows of `x` (the batch).
    pub rows: usize,
    /// Columns of `x`, rows of `w`.
    pub inputs: usize,
    /// Columns of `w` and of `y`.
    pub outputs: usize,
}

impl DenseShape {
    fn parallel(self) -> bool {
        self.rows * self.inputs * self.outputs >= PARALLEL_PRODUCT
    }
}

/// `y = x w + b`, row-major `rows x outputs`. Above the parallel size, each of rayon's threads
/// takes a block of rows and fills its bias and multiplies it on its own: the bias is written by
/// every thread, while it is in that thread's cache (gemm's own split leaves it to one thread).
///
/// # Panics
/// If a slice does not have its shape's length.
pub fn forward(x: &[f32], w: &[f32], b: &[f32], s: DenseShape) -> Vec<f32> {
    assert!(
        x.len() == s.rows * s.inputs && w.len() == s.inputs * s.outputs && b.len() == s.outputs,
        "dense operands do not match their shape"
    );
    let w = Matrix::rows(w, s.inputs, s.outputs);
    kernels::collect(s.rows * s.outputs, |y| {
        by_row_blocks(s, y, s.outputs, x, s.inputs, |y, x, rows| {
            matmul(
                fill_bias(y, b, 1),
                Matrix::rows(x, rows, s.inputs),
                w,
                true,
                false,
            );
        });
    })
}

/// Runs `block(out, input, rows)` on blocks of `rows` rows of `out` (`out_width` values a row)
/// and of `input` (`in_width`): one block per rayon thread above the parallel size, else one
/// block of all the rows on this thread.
fn by_row_blocks<T: Send>(
    s: DenseShape,
    out: &mut [T],
    out_width: usize,
    input: &[f32],
    in_width: usize,
    block: impl Fn(&mut [T], &[f32], usize) + Sync,
) {
    if out.is_empty() {
        return;
    }
    if !s.parallel() {
        return block(out, input, s.rows);
    }
    // Above the parallel size every dimension is at least 1.
    let rows = s.rows.div_ceil(rayon::current_num_threads());
    out.par_chunks_mut(rows * out_width)
        .zip(input.par_chunks(rows * in_width))
        .for_each(|(out, input)| block(out, input, out.len() / out_width));
}

/// Gradients of [`forward`] from `dy` (`rows x outputs`): `(dx, dw, db)`, `dx` only when
/// `input_gradient`.
pub fn backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    s: DenseShape,
    input_gradient: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let dy_matrix = Matrix::rows(dy, s.rows, s.outputs);
    // dx = dy w^T by blocks of rows, as in the forward pass.
    let dx = input_gradient.then(|| {
        let mut dx = vec![0.0f32; s.rows * s.inputs];
        let w = Matrix::rows(w, s.inputs, s.outputs).t();
        by_row_blocks(s, &mut dx, s.inputs, dy, s.outputs, |dx, dy, rows| {
            matmul(dx, Matrix::rows(dy, rows, s.outputs), w, false, false);
        });
        dx
    });
    let mut dw = vec![0.0f32; s.inputs * s.outputs];
    let x = Matrix::rows(x, s.rows, s.inputs).t();
    matmul(&mut dw, x, dy_matrix, false, s.parallel());
    let mut db = vec![0.0f32; s.outputs];
    for row in dy.chunks_exact(s.outputs.max(1)) {
        for (sum, &g) in db.iter_mut().zip(row) {
            *sum += g;
        }
    }
    (dx, dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x3 by 3x2 product with a bias, and its gradients, by hand.
    #[test]
    fn forward_and_backward_by_hand() {
        let s = DenseShape {
            rows: 2,
            inputs: 3,
            outputs: 2,
        };
        let x = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];
        let w = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let b = [0.5, -0.5];
        // [1 2 3] w = [4, 5]; [-1 0 1] w = [0, 1].
        assert_eq!(forward(&x, &w, &b, s), [4.5, 4.5, 0.5, 0.5]);
        let dy = [1.0, 2.0, 0.0, -1.0];
        let (dx, dw, db) = backward(&x, &w, &dy, s, true);
        // dx = dy w^T: [1 2] w^T = [1, 2, 3]; [0 -1] w^T = [0, -1, -1].
        assert_eq!(dx.unwrap(), [1.0, 2.0, 3.0, 0.0, -1.0, -1.0]);
        // dw = x^T dy.
        assert_eq!(dw, [1.0, 3.0, 2.0, 4.0, 3.0, 5.0]);
        assert_eq!(db, [1.0, 1.0]);
        assert!(backward(&x, &w, &dy, s, false).0.is_none());
    }

    /// Empty dimensions: no inputs give the bias, no outputs give nothing and a zero `dx`.
    #[test]
    fn empty_dimensions() {
        let no_inputs = DenseShape {
            rows: 3,
            inputs: 0,
            outputs: 2,
        };
        assert_eq!(
            forward(&[], &[], &[0.5, -1.0], no_inputs),
            [0.5, -1.0].repeat(3)
        );
        let no_outputs = DenseShape {
            rows: 2,
            inputs: 3,
            outputs: 0,
        };
        let x = [1.0; 6];
        assert!(forward(&x, &[], &[], no_outputs).is_empty());
        let (dx, dw, db) = backward(&x, &[], &[], no_outputs, true);
        assert_eq!(dx.unwrap(), [0.0; 6]);
        assert!(dw.is_empty() && db.is_empty());
    }
}
