//! The native half of the `libcriu` Python package (`libcriu._libcriu`), a
//! thin layer over the Rust core (`crates/criu`). This file only assembles
//! the module; each concern has its file:
//!
//! - `options.rs`: the `Options` class, its setters (generated from the
//!   core's option tables) and its constructor keywords;
//! - `operations.rs`: check, dump, restore, ... on those options, run with
//!   the GIL released;
//! - `callbacks.rs`: the notify callback and the bridge through which every
//!   callback reaches Python during an operation;
//! - `errors.rs`: the exception classes and the one conversion of core
//!   errors into them;
//! - `records.rs`: the immutable record classes the functions return;
//! - `functions.rs`: the module's functions;
//! - `migrate.rs`: page servers, lazy pages, the CPU check, wait_pid and
//!   requests on the connection the options keep;
//! - `images.rs`: pycriu's images API and crit.
//!
//! The pure-Python half (`python/libcriu/`) defines the exception classes
//! (`_errors.py`), the enums and the module-level API that mirrors
//! libcriu's global C functions, and the pycriu-compatible `libcriu.pycriu`.

use pyo3::prelude::*;

mod callbacks;
mod errors;
mod functions;
mod images;
mod migrate;
mod operations;
mod options;
mod records;

/// The native part of libcriu; import `libcriu`, not this module.
#[pymodule]
fn _libcriu(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::check_classes(m.py())?;
    m.add_class::<options::Options>()?;
    m.add("OPTION_FIELDS", options::OPTION_FIELDS.concat())?;
    m.add_class::<records::ExternalResource>()?;
    m.add_class::<records::TmpFile>()?;
    m.add_class::<records::PageServer>()?;
    m.add_function(wrap_pyfunction!(functions::get_external_id, m)?)?;
    m.add_function(wrap_pyfunction!(functions::get_inherit_key, m)?)?;
    m.add_function(wrap_pyfunction!(functions::list_externals, m)?)?;
    m.add_function(wrap_pyfunction!(functions::list_tmp_files, m)?)?;
    m.add_function(wrap_pyfunction!(functions::rpc_descriptor_set, m)?)?;
    m.add_function(wrap_pyfunction!(functions::log_errors, m)?)?;
    images::register(m)?;
    Ok(())
}
