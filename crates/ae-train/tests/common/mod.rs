//! What the test files of this crate share.

use ae_train::{Backend, DeviceSpec};
use burn::tensor::Device;

/// A wgpu device, or `None` (with the reason printed) where none can be had.
pub fn wgpu() -> Option<Device> {
    let require = std::env::var("AE_REQUIRE_WGPU").is_ok_and(|v| v == "1");
    if !Backend::Wgpu.is_compiled() {
        assert!(!require, "AE_REQUIRE_WGPU=1 but the wgpu feature is off");
        eprintln!("skipped: wgpu not compiled in (cargo feature `wgpu`)");
        return None;
    }
    match DeviceSpec::new(Backend::Wgpu).device() {
        Ok(device) => Some(device),
        Err(err) if !require => {
            eprintln!("skipped: {err}");
            None
        }
        Err(err) => panic!("wgpu: {err}"),
    }
}
