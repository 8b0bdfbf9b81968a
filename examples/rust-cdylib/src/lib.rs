//! A shared library with one C function that asks criu whether it can
//! checkpoint on this machine, through the criu crate.

use std::ffi::c_int;

/// Runs `criu check` through the criu binary on PATH: 0 when criu reports
/// success, otherwise the negative value libcriu documents for the failure.
/// A panic is caught here, as no unwinding may cross into C.
#[no_mangle]
pub extern "C" fn example_criu_check() -> c_int {
    match std::panic::catch_unwind(|| criu::ops::check(&mut criu::Options::new())) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => e.return_value(),
        Err(_) => -1,
    }
}
