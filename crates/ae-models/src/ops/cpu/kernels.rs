//! The element-wise kernels on `f32` slices: the functions of [`super::scalar`] over whole
//! buffers, compiled once per instruction set (AVX-512, AVX2+FMA, the baseline) and picked at run
//! time, split across threads above [`PARALLEL_THRESHOLD`] values; and the fused Adam update.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::scalar::{
    bce_with_logits, bce_with_logits_gradient, exp, product, sigmoid, sigmoid_slope,
    squared_difference, tanh, tanh_slope,
};
use crate::ops::AdamStep;

/// Values below which a kernel runs on the calling thread: under it, handing chunks to rayon
/// costs more than it saves (measured on `[256, 784]` and `[128, 784]` sigmoids, 2 cores).
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Values per parallel task.
const CHUNK: usize = 1 << 13;

/// An output value a kernel writes: the outputs are new buffers, which need no zeroing first
/// (a pass over memory the kernel overwrites anyway).
pub type Out = MaybeUninit<f32>;

/// A new vector of `len` values, every one written by `kernel`, which must write them all (each
/// kernel here checks that its output is as long as its input).
pub fn collect(len: usize, kernel: impl FnOnce(&mut [Out])) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    let spare = &mut values.spare_capacity_mut()[..len];
    kernel(spare);
    // SAFETY: the first `len` values were written by `kernel`, as its contract says.
    unsafe { values.set_len(len) };
    values
}

/// Runs `kernel` on `input` into `output` (same length), in parallel above the threshold.
fn map_unary(input: &[f32], output: &mut [Out], kernel: fn(&[f32], &mut [Out])) {
    if input.len() < PARALLEL_THRESHOLD {
        kernel(input, output);
    } else {
        output
            .par_chunks_mut(CHUNK)
            .zip(input.par_chunks(CHUNK))
            .for_each(|(out, inp)| kernel(inp, out));
    }
}

/// Runs `kernel` on `a` and `b` into `output` (all of one length), in parallel above the
/// threshold.
fn map_binary(a: &[f32], b: &[f32], output: &mut [Out], kernel: fn(&[f32], &[f32], &mut [Out])) {
    if a.len() < PARALLEL_THRESHOLD {
        kernel(a, b, output);
    } else {
        output
            .par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(out, (a, b))| kernel(a, b, out));
    }
}

/// Runs `kernel` on `values` in place, in parallel above the threshold.
fn map_in_place(values: &mut [f32], kernel: fn(&mut [f32])) {
    if values.len() < PARALLEL_THRESHOLD {
        kernel(values);
    } else {
        values.par_chunks_mut(CHUNK).for_each(kernel);
    }
}

/// Defines `$name(input, output)` and `$in_place(values)` applying `$f::<FUSED>` to every value,
/// compiled for AVX-512, AVX2+FMA and the baseline, the best the CPU has picked at run time.
macro_rules! unary_kernel {
    ($(#[$doc:meta])* $name:ident, $in_place:ident, $f:ident) => {
        $(#[$doc])*
        pub fn $name(input: &[f32], output: &mut [Out]) {
            assert_eq!(input.len(), output.len(), "kernel operands differ in length");
            #[inline(always)]
            fn body<const FUSED: bool>(input: &[f32], output: &mut [Out]) {
                for (y, &x) in output.iter_mut().zip(input) {
                    y.write($f::<FUSED>(x));
                }
            }
            map_unary(input, output, pick!(body, (input: &[f32], output: &mut [Out])));
        }

        $(#[$doc])*
        ///
        /// In place: `values` is both the input and the output.
        pub fn $in_place(values: &mut [f32]) {
            #[inline(always)]
            fn body<const FUSED: bool>(values: &mut [f32]) {
                for x in values.iter_mut() {
                    *x = $f::<FUSED>(*x);
                }
            }
            map_in_place(values, pick!(body, (values: &mut [f32])));
        }
    };
}

/// Defines `$name(a, b, output)` applying `$f::<FUSED>` to every pair of values, as
/// [`unary_kernel`].
macro_rules! binary_kernel {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        pub fn $name(a: &[f32], b: &[f32], output: &mut [Out]) {
            assert!(
                a.len() == output.len() && b.len() == output.len(),
                "kernel operands differ in length"
            );
            #[inline(always)]
            fn body<const FUSED: bool>(a: &[f32], b: &[f32], output: &mut [Out]) {
                for ((y, &a), &b) in output.iter_mut().zip(a).zip(b) {
                    y.write($f::<FUSED>(a, b));
                }
            }
            map_binary(a, b, output, pick!(body, (a: &[f32], b: &[f32], output: &mut [Out])));
        }
    };
}

/// The best-compiled version of `$body::<FUSED>` for this CPU, as a plain function pointer:
/// `FUSED` where the target has FMA instructions.
macro_rules! pick {
    ($body:ident, ($($arg:ident: $ty:ty),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512($($arg: $ty),*) {
                $body::<true>($($arg),*)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) {
                $body::<true>($($arg),*)
            }
            fn baseline($($arg: $ty),*) {
                $body::<false>($($arg),*)
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the features `avx512` is compiled for.
                (|$($arg: $ty),*| unsafe { avx512($($arg),*) }) as fn($($ty),*)
            } else if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: as above, for AVX2 and FMA.
                (|$($arg: $ty),*| unsafe { avx2($($arg),*) }) as fn($($ty),*)
            } else {
                baseline as fn($($ty),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            // AArch64 always has fused multiply-adds; other targets are not assumed to.
            $body::<{ cfg!(target_arch = "aarch64") }> as fn($($ty),*)
        }
    }};
}

unary_kernel!(
    /// `output = sigmoid(input)`.
    sigmoid_forward,
    sigmoid_in_place,
    sigmoid
);

binary_kernel!(
    /// `output = grad * y (1 - y)`, the gradient of the sigmoid from its output `y`.
    sigmoid_backward,
    sigmoid_slope
);

unary_kernel!(
    /// `output = tanh(input)`.
    tanh_forward,
    tanh_in_place,
    tanh
);

binary_kernel!(
    /// `output = grad (1 - y^2)`, the gradient of tanh from its output `y`.
    tanh_backward,
    tanh_slope
);

unary_kernel!(
    /// `output = e^input`.
    exp_forward,
    exp_in_place,
    exp
);

binary_kernel!(
    /// `output = bce_with_logits(logits, target)`.
    bce_with_logits_forward,
    bce_with_logits
);

binary_kernel!(
    /// `output = sigmoid(logits) - target`: the gradient of [`bce_with_logits`] in the logits,
    /// before the incoming gradient multiplies it.
    bce_with_logits_slope,
    bce_with_logits_gradient
);

binary_kernel!(
    /// `output = a * b`.
    multiply,
    product
);

binary_kernel!(
    /// `output = (a - b)^2`.
    squared_difference_forward,
    squared_difference
);

/// `output = 2 grad (a - b)`, the gradient of `(a - b)^2` in `a` (in `b` with the two swapped),
/// rounded as Burn's autodiff rounds `(a - b).square()`'s: `grad d + grad d`.
pub fn squared_difference_backward(a: &[f32], b: &[f32], grad: &[f32], output: &mut [Out]) {
    let n = output.len();
    assert!(
        a.len() == n && b.len() == n && grad.len() == n,
        "kernel operands differ in length"
    );
    #[inline(always)]
    fn body<const _FUSED: bool>(a: &[f32], b: &[f32], grad: &[f32], output: &mut [Out]) {
        for (y, ((&a, &b), &g)) in output.iter_mut().zip(a.iter().zip(b).zip(grad)) {
            let half = g * (a - b);
            y.write(half + half);
        }
    }
    let kernel = pick!(
        body,
        (a: &[f32], b: &[f32], grad: &[f32], output: &mut [Out])
    );
    if n < PARALLEL_THRESHOLD {
        kernel(a, b, grad, output);
    } else {
        output
            .par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .zip(grad.par_chunks(CHUNK))
            .for_each(|((out, (a, b)), g)| kernel(a, b, g, out));
    }
}

/// One Adam update of a parameter and its two moments, in place, in one pass (Burn's `Adam`
/// takes a dozen passes, each allocating): `m1 = b1 m1 + (1 - b1) g`, `m2 = b2 m2 + (1 - b2) g^2`,
/// `param -= lr (m1 s) / (sqrt(m2) + eps)`, with the operations in Burn's order (the results agree
/// with Burn's Adam to 1e-6 relative).
pub fn adam_update(
    param: &mut [f32],
    grad: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    step: AdamStep,
) {
    let n = param.len();
    assert!(
        grad.len() == n && moment_1.len() == n && moment_2.len() == n,
        "kernel operands differ in length"
    );
    // Unfused whatever the CPU (`_FUSED` unused), to keep Burn's roundings.
    #[inline(always)]
    fn body<const _FUSED: bool>(
        param: &mut [f32],
        grad: &[f32],
        m1: &mut [f32],
        m2: &mut [f32],
        step: AdamStep,
    ) {
        let (b1, b2) = (step.beta_1, step.beta_2);
        let lanes = param
            .iter_mut()
            .zip(grad)
            .zip(m1.iter_mut().zip(m2.iter_mut()));
        for ((p, &g), (m1, m2)) in lanes {
            let first = *m1 * b1 + g * (1.0 - b1);
            let second = *m2 * b2 + (g * g) * (1.0 - b2);
            *m1 = first;
            *m2 = second;
            let update = (first * step.moment_1_scale) / (second.sqrt() + step.epsilon);
            *p -= update * step.learning_rate;
        }
    }
    let kernel = pick!(
        body,
        (param: &mut [f32], grad: &[f32], m1: &mut [f32], m2: &mut [f32], step: AdamStep)
    );
    if n < PARALLEL_THRESHOLD {
        kernel(param, grad, moment_1, moment_2, step);
    } else {
        param
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(
                moment_1
                    .par_chunks_mut(CHUNK)
                    .zip(moment_2.par_chunks_mut(CHUNK)),
            )
            .for_each(|((p, g), (m1, m2))| kernel(p, g, m1, m2, step));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `$f` as the slice kernels compute it on this CPU: fused where it has FMA.
    macro_rules! as_picked {
        ($f:ident($($arg:expr),*)) => {{
            #[cfg(target_arch = "x86_64")]
            let fused = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            #[cfg(not(target_arch = "x86_64"))]
            let fused = cfg!(target_arch = "aarch64");
            if fused { $f::<true>($($arg),*) } else { $f::<false>($($arg),*) }
        }};
    }

    #[test]
    fn slice_kernels_agree_with_the_scalar_functions_serial_and_parallel() {
        for n in [0, 1, 7, 100, PARALLEL_THRESHOLD + 3 * CHUNK + 5] {
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 37) % 1001) as f32 * 0.02 - 10.0)
                .collect();
            let t: Vec<f32> = (0..n).map(|i| (i % 11) as f32 / 10.0).collect();
            let out = collect(n, |out| sigmoid_forward(&x, out));
            assert!(
                out.iter()
                    .zip(&x)
                    .all(|(y, &x)| *y == as_picked!(sigmoid(x)))
            );
            let mut in_place = x.clone();
            sigmoid_in_place(&mut in_place);
            assert_eq!(in_place, out);
            let out = collect(n, |out| tanh_forward(&x, out));
            assert!(out.iter().zip(&x).all(|(y, &x)| *y == as_picked!(tanh(x))));
            let out = collect(n, |out| exp_forward(&x, out));
            assert!(out.iter().zip(&x).all(|(y, &x)| *y == as_picked!(exp(x))));
            let out = collect(n, |out| bce_with_logits_forward(&x, &t, out));
            assert!(
                out.iter()
                    .zip(x.iter().zip(&t))
                    .all(|(y, (&x, &t))| *y == as_picked!(bce_with_logits(x, t)))
            );
            let out = collect(n, |out| sigmoid_backward(&x, &t, out));
            assert!(
                out.iter()
                    .zip(x.iter().zip(&t))
                    .all(|(g, (&y, &t))| *g == t * y * (1.0 - y))
            );
        }
    }
}
