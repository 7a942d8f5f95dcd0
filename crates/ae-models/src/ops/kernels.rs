//! The element-wise kernels on `f32` slices: branch-free scalar code that LLVM vectorises, compiled
//! once per instruction set (AVX-512, AVX2+FMA, the baseline) and picked at run time, split across
//! threads above [`PARALLEL_THRESHOLD`] values.
//!
//! `exp` is Cephes' `expf` (range reduction by `ln 2`, a degree-6 polynomial; relative error
//! below 2e-7 on its range) and `ln` Cephes' `logf` on the mantissa; the rest is built from them.
//! Every scalar function takes `FUSED`: whether its products and sums may be fused into one
//! instruction (`a.mul_add(b, c)`), true in the versions compiled for FMA and false in the baseline,
//! where `mul_add` would be a call into libm. NaN in gives NaN out everywhere, so that divergence
//! stays visible.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::AdamStep;

/// Values below which a kernel runs on the calling thread: under it, handing chunks to rayon
/// costs more than it saves (measured on `[256, 784]` and `[128, 784]` sigmoids, 2 cores).
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Values per parallel task.
const CHUNK: usize = 1 << 13;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in two so that `n ln 2` is exact in the first part (Cephes).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer, which then sits in
/// the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// `exp` overflows above this and underflows (to below the smallest normal float) under
/// [`EXP_LOW`].
const EXP_HIGH: f32 = 88.722_84;
const EXP_LOW: f32 = -87.336_55;
/// The range of [`exp_saturated`]: `2^n` of its `n` is one normal float.
const SATURATED_HIGH: f32 = 88.0;
const SATURATED_LOW: f32 = -87.0;

/// `a b + c`: one fused instruction when `FUSED`, else a product and a sum.
#[inline(always)]
fn mul_add<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// `e^r` for `|r| <= ln 2 / 2`, and the integer `n` with `e^x = e^r 2^n`, as the sum
/// `ROUND_MAGIC + n` (its low mantissa bits hold `n`). `x` must lie within `[-126 ln 2, 128 ln 2]`.
#[inline(always)]
fn exp_reduced<const FUSED: bool>(x: f32) -> (f32, f32) {
    let shifted = mul_add::<FUSED>(x, LOG2E, ROUND_MAGIC);
    let n = shifted - ROUND_MAGIC;
    let r = mul_add::<FUSED>(n, -LN2_HI, x);
    let r = mul_add::<FUSED>(n, -LN2_LO, r);
    let p = 1.987_569_1e-4_f32;
    let p = mul_add::<FUSED>(p, r, 1.398_199_9e-3);
    let p = mul_add::<FUSED>(p, r, 8.333_452e-3);
    let p = mul_add::<FUSED>(p, r, 4.166_579_6e-2);
    let p = mul_add::<FUSED>(p, r, 1.666_666_5e-1);
    let p = mul_add::<FUSED>(p, r, 0.5);
    // (p r) r + r + 1, the small terms first.
    (mul_add::<FUSED>(p * r, r, r) + 1.0, shifted)
}

/// The integer `n` of the sum `ROUND_MAGIC + n`.
#[inline(always)]
fn rounded(shifted: f32) -> i32 {
    (shifted.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32)
}

/// `2^n` as a float, for `n` in `[-126, 127]`.
#[inline(always)]
fn power_of_two(n: i32) -> f32 {
    f32::from_bits((n.wrapping_add(127) << 23) as u32)
}

/// `e^x`: `inf` above 88.72, 0 below -87.34, NaN for NaN.
#[inline(always)]
pub fn exp<const FUSED: bool>(x: f32) -> f32 {
    // Clamped to the range where e^x is a normal float; the rest is selected at the end.
    let (p, shifted) = exp_reduced::<FUSED>(x.clamp(EXP_LOW, EXP_HIGH));
    // 2^n for n in [-126, 128], as two factors that are each a normal float.
    let n = rounded(shifted);
    let half = n >> 1;
    let y = p * power_of_two(half) * power_of_two(n - half);
    let y = if x > EXP_HIGH { f32::INFINITY } else { y };
    let y = if x < EXP_LOW { 0.0 } else { y };
    if x.is_nan() { x } else { y }
}

/// `e^x` for `x` in `[-87, 88]`, and `e^-87` or `e^88` beyond: what the sigmoid, tanh and the
/// cross-entropy need, where those ends round to the same results as 0 and infinity would (within
/// 2e-38). One power of two and no selects: a third faster than [`exp`]. NaN for NaN.
#[inline(always)]
fn exp_saturated<const FUSED: bool>(x: f32) -> f32 {
    let (p, shifted) = exp_reduced::<FUSED>(x.clamp(SATURATED_LOW, SATURATED_HIGH));
    p * power_of_two(rounded(shifted))
}

/// `ln x` for positive normal `x` (the kernels only take it of values in `[1, 2]`).
#[inline(always)]
fn ln_normal<const FUSED: bool>(x: f32) -> f32 {
    let bits = x.to_bits() as i32;
    let e = ((bits >> 23) & 0xff) - 127;
    let m = f32::from_bits(((bits & 0x007f_ffff) | 0x3f80_0000) as u32);
    // Mantissa in [sqrt(1/2), sqrt(2)) so that the polynomial's argument is near 0.
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = (if big { e + 1 } else { e }) as f32;
    let f = m - 1.0;
    let z = f * f;
    let p = 7.037_683_6e-2_f32;
    let p = mul_add::<FUSED>(p, f, -1.151_461_e-1);
    let p = mul_add::<FUSED>(p, f, 1.167_699_9e-1);
    let p = mul_add::<FUSED>(p, f, -1.242_014_1e-1);
    let p = mul_add::<FUSED>(p, f, 1.424_932_3e-1);
    let p = mul_add::<FUSED>(p, f, -1.666_805_7e-1);
    let p = mul_add::<FUSED>(p, f, 2.000_071_4e-1);
    let p = mul_add::<FUSED>(p, f, -2.499_999_4e-1);
    let p = mul_add::<FUSED>(p, f, 3.333_333e-1);
    let y = f * z * p + e * LN2_LO - 0.5 * z;
    f + y + e * LN2_HI
}

/// `ln(1 + u)` for `u` in `[0, 1]`, accurate for tiny `u` too: `ln(w) u / (w - 1)` with
/// `w = 1 + u` corrects the rounding of `w` (Goldberg's trick).
#[inline(always)]
fn ln_1p_unit<const FUSED: bool>(u: f32) -> f32 {
    let w = 1.0 + u;
    let d = w - 1.0;
    let ratio = if d == 0.0 { 1.0 } else { u / d };
    if d == 0.0 {
        u
    } else {
        ln_normal::<FUSED>(w) * ratio
    }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid<const FUSED: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp_saturated::<FUSED>(-x))
}

/// `tanh x = 1 - 2 / (1 + e^2x)`, with the sign of `x` for `|x|` below 2^-12 where that form
/// cancels.
#[inline(always)]
pub fn tanh<const FUSED: bool>(x: f32) -> f32 {
    let y = 1.0 - 2.0 / (1.0 + exp_saturated::<FUSED>(2.0 * x));
    if x.abs() < 2.441_406_3e-4 { x } else { y }
}

/// Binary cross-entropy of target `t` under logit `x`: `max(x, 0) - x t + ln(1 + e^-|x|)`.
#[inline(always)]
pub fn bce_with_logits<const FUSED: bool>(x: f32, t: f32) -> f32 {
    let y = x.max(0.0) - x * t + ln_1p_unit::<FUSED>(exp_saturated::<FUSED>(-x.abs()));
    if x.is_nan() { x } else { y }
}

/// The gradient of the sigmoid from its output `y`, times `grad`: `grad y (1 - y)`.
#[inline(always)]
fn sigmoid_slope<const FUSED: bool>(y: f32, grad: f32) -> f32 {
    grad * y * (1.0 - y)
}

/// The gradient of tanh from its output `y`, times `grad`: `grad (1 - y^2)`.
#[inline(always)]
fn tanh_slope<const FUSED: bool>(y: f32, grad: f32) -> f32 {
    grad * (1.0 - y * y)
}

/// The gradient of [`bce_with_logits`] in the logit `x`: `sigmoid(x) - t`.
#[inline(always)]
fn bce_with_logits_gradient<const FUSED: bool>(x: f32, t: f32) -> f32 {
    sigmoid::<FUSED>(x) - t
}

#[inline(always)]
fn product<const FUSED: bool>(a: f32, b: f32) -> f32 {
    a * b
}

/// `(a - b)^2`, as Burn's `(a - b).square()` rounds it.
#[inline(always)]
pub fn squared_difference<const FUSED: bool>(a: f32, b: f32) -> f32 {
    let d = a - b;
    d * d
}

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

    /// Relative error, with an absolute floor for values near 0.
    fn close(got: f32, want: f64, rel: f64, abs: f64) -> bool {
        let got = f64::from(got);
        if want.is_nan() {
            return got.is_nan();
        }
        if want.is_infinite() {
            return got == want;
        }
        (got - want).abs() <= abs.max(rel * want.abs())
    }

    fn grid() -> Vec<f32> {
        let mut values: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.05).collect();
        values.extend([
            -1000.0,
            -100.0,
            -88.8,
            -87.4,
            -87.3,
            88.7,
            88.8,
            100.0,
            1000.0,
            1e-30,
            -1e-30,
            1e-40, // denormal
            -1e-40,
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        values
    }

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
    fn exp_matches_libm() {
        for x in grid() {
            let want = f64::from(x).exp();
            let want = if want < f64::from(f32::MIN_POSITIVE) {
                0.0
            } else {
                want
            };
            let want = if want > f64::from(f32::MAX) {
                f64::INFINITY
            } else {
                want
            };
            for got in [exp::<false>(x), exp::<true>(x)] {
                assert!(
                    close(got, want, 3e-7, 1.2e-38),
                    "exp({x}) = {got}, want {want}"
                );
            }
        }
        assert!(exp::<false>(f32::NAN).is_nan() && exp::<true>(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_and_tanh_match_libm() {
        for x in grid() {
            let sig = 1.0 / (1.0 + (-f64::from(x)).exp());
            let th = f64::from(x).tanh();
            for (sigmoid, tanh) in [
                (sigmoid::<false>(x), tanh::<false>(x)),
                (sigmoid::<true>(x), tanh::<true>(x)),
            ] {
                assert!(close(sigmoid, sig, 4e-7, 1e-37), "sigmoid({x}) = {sigmoid}");
                assert!(close(tanh, th, 1e-6, 2e-7), "tanh({x}) = {tanh}, want {th}");
            }
        }
        for fused in [false, true] {
            let (sigmoid, tanh) = if fused {
                (sigmoid::<true>(f32::NAN), tanh::<true>(f32::NAN))
            } else {
                (sigmoid::<false>(f32::NAN), tanh::<false>(f32::NAN))
            };
            assert!(sigmoid.is_nan() && tanh.is_nan());
        }
    }

    #[test]
    fn bce_matches_the_definition() {
        for x in grid().into_iter().filter(|x| x.is_finite()) {
            for t in [0.0f32, 0.3, 1.0] {
                let (xd, td) = (f64::from(x), f64::from(t));
                // max(x, 0) - x t + ln(1 + e^-|x|), in f64.
                let want = xd.max(0.0) - xd * td + (-xd.abs()).exp().ln_1p();
                for got in [
                    bce_with_logits::<false>(x, t),
                    bce_with_logits::<true>(x, t),
                ] {
                    assert!(
                        close(got, want, 3e-7, 1e-7),
                        "bce({x}, {t}) = {got}, want {want}"
                    );
                }
            }
        }
        assert!(bce_with_logits::<false>(f32::NAN, 0.5).is_nan());
        assert!(bce_with_logits::<true>(f32::NAN, 0.5).is_nan());
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
