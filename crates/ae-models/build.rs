//! `cfg(gpu_kernels)`: this crate's CubeCL kernels (`ops::gpu`) are built when a GPU backend is
//! compiled in (feature `gpu-kernels`, which the backend features name) and Burn's `fusion` is not
//! (fusion fuses the same element-wise chains itself, and wraps the backend type they take).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gpu_kernels)");
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    if feature("GPU_KERNELS") && !feature("FUSION") {
        println!("cargo::rustc-cfg=gpu_kernels");
    }
}
