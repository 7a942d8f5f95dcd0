//! The element-wise functions on one `f32`: branch-free scalar code that LLVM vectorises when the
//! slice kernels ([`super::kernels`]) loop over it.
//!
//! `exp` is Cephes' `expf` (range reduction by `ln 2`, a degree-6 polynomial; relative error
//! below 2e-7 on its range) and `ln` Cephes' `logf` on the mantissa; the rest is built from them.
//! Every function takes `FUSED`: whether its products and sums may be fused into one
//! instruction (`a.mul_add(b, c)`), true in the versions compiled for FMA and false in the
//! baseline, where `mul_add` would be a call into libm. NaN in gives NaN out everywhere, so that divergence
//! stays visible.

/// `log2 e`.
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
pub fn sigmoid_slope<const FUSED: bool>(y: f32, grad: f32) -> f32 {
    grad * y * (1.0 - y)
}

/// The gradient of tanh from its output `y`, times `grad`: `grad (1 - y^2)`.
#[inline(always)]
pub fn tanh_slope<const FUSED: bool>(y: f32, grad: f32) -> f32 {
    grad * (1.0 - y * y)
}

/// The gradient of [`bce_with_logits`] in the logit `x`: `sigmoid(x) - t`.
#[inline(always)]
pub fn bce_with_logits_gradient<const FUSED: bool>(x: f32, t: f32) -> f32 {
    sigmoid::<FUSED>(x) - t
}

/// `a b`.
#[inline(always)]
pub fn product<const FUSED: bool>(a: f32, b: f32) -> f32 {
    a * b
}

/// `(a - b)^2`, as Burn's `(a - b).square()` rounds it.
#[inline(always)]
pub fn squared_difference<const FUSED: bool>(a: f32, b: f32) -> f32 {
    let d = a - b;
    d * d
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
}
