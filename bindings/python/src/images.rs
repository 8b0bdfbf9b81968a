//! The native half of `libcriu.images` (pycriu's `images` API) and of the
//! `criu-image` Python entry point: image bytes to and from the dicts
//! pycriu makes, an images directory's statistics, and the core's crit
//! command line ([`criu::images::cli::run`]) over Python's streams.
//! The pure-Python halves are python/libcriu/images.py and crit.py.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use criu::images::{self, cli, ImageError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Raises MagicException(magic) for an unknown magic, ValueError otherwise.
fn image_err(py: Python<'_>, e: ImageError) -> PyErr {
    if let ImageError::UnknownMagic(m) = e {
        let cls = py.import("libcriu.images").and_then(|m| m.getattr("MagicException"));
        if let Ok(cls) = cls {
            // pycriu reads the magic as a signed int.
            if let Ok(obj) = cls.call1((m as i32,)) {
                return PyErr::from_value(obj);
            }
        }
    }
    PyValueError::new_err(e.to_string())
}

fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (_, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(Number::from(u)));
        }
        return Ok(Value::Number(Number::from(obj.extract::<i64>()?)));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Number::from_f64(f.value()).map(Value::Number).unwrap_or(Value::Null));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.extract::<String>()?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| PyTypeError::new_err("image dict keys must be str"))?;
            map.insert(key.extract::<String>()?, from_py(&v)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l.iter().map(|v| from_py(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t.iter().map(|v| from_py(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    Err(PyTypeError::new_err(format!("cannot put a {} into an image", obj.get_type().name()?)))
}

/// The image in `data` as pycriu's dict.
#[pyfunction]
#[pyo3(signature = (data, pretty=false, no_payload=false))]
fn images_loads<'py>(py: Python<'py>, data: &[u8], pretty: bool, no_payload: bool) -> PyResult<Bound<'py, PyAny>> {
    let value = py.detach(|| images::decode(data, pretty, no_payload)).map_err(|e| image_err(py, e))?;
    to_py(py, &value)
}

/// The bytes of the image given as pycriu's dict.
#[pyfunction]
fn images_dumps<'py>(py: Python<'py>, image: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let value = from_py(image)?;
    let bytes = py.detach(|| images::encode(&value)).map_err(|e| image_err(py, e))?;
    Ok(PyBytes::new(py, &bytes))
}

/// `{"magic": NAME, "count": N}` of the image in `data`.
#[pyfunction]
fn images_info<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let value = images::info(data).map_err(|e| image_err(py, e))?;
    to_py(py, &value)
}

/// A Python exception met by a reader or writer, as the I/O error crit reports.
fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// A Python `read(n) -> bytes` as a Rust reader.
struct PyReader(Py<PyAny>);

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Python::attach(|py| {
            let got = self.0.call1(py, (buf.len(),)).map_err(io_error)?;
            let bytes = got.bind(py).cast::<PyBytes>().map_err(io_error)?.as_bytes();
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        })
    }
}

/// A Python `write(bytes)` as a Rust writer.
struct PyWriter(Py<PyAny>);

impl Write for PyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Python::attach(|py| self.0.call1(py, (PyBytes::new(py, buf),)).map(|_| buf.len()).map_err(io_error))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `criu-image ARGS` (the core's crit, as the binary runs it) over the
/// given `read(n)` and `write(bytes)` callables; returns the exit code.
#[pyfunction]
fn crit_run(py: Python<'_>, args: Vec<OsString>, read: Py<PyAny>, write_out: Py<PyAny>, write_err: Py<PyAny>) -> u8 {
    let (mut stdin, mut stdout, mut stderr) = (PyReader(read), PyWriter(write_out), PyWriter(write_err));
    py.detach(|| cli::run(&args, cli::Streams { stdin: &mut stdin, stdout: &mut stdout, stderr: &mut stderr }))
}

/// `(dump, restore)`: the statistics of an images directory, each a dict
/// of stats_entry's fields (pycriu's names) or None.
#[pyfunction]
fn image_stats<'py>(py: Python<'py>, images_dir: PathBuf) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let found = py.detach(|| images::image_stats(&images_dir)).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let dict = |fields: Vec<(&str, Option<u64>)>| -> PyResult<Bound<'py, PyAny>> {
        let d = PyDict::new(py);
        for (k, v) in fields {
            if let Some(v) = v {
                d.set_item(k, v)?;
            }
        }
        Ok(d.into_any())
    };
    let dump = match &found.dump {
        None => py.None().into_bound(py),
        Some(s) => dict(vec![
            ("freezing_time", Some(s.freezing_time as u64)),
            ("frozen_time", Some(s.frozen_time as u64)),
            ("memdump_time", Some(s.memdump_time as u64)),
            ("memwrite_time", Some(s.memwrite_time as u64)),
            ("pages_scanned", Some(s.pages_scanned)),
            ("pages_skipped_parent", Some(s.pages_skipped_parent)),
            ("pages_written", Some(s.pages_written)),
            ("irmap_resolve", s.irmap_resolve.map(u64::from)),
            ("pages_lazy", Some(s.pages_lazy)),
            ("page_pipes", s.page_pipes),
            ("page_pipe_bufs", s.page_pipe_bufs),
            ("shpages_scanned", s.shpages_scanned),
            ("shpages_skipped_parent", s.shpages_skipped_parent),
            ("shpages_written", s.shpages_written),
        ])?,
    };
    let restore = match &found.restore {
        None => py.None().into_bound(py),
        Some(s) => dict(vec![
            ("pages_compared", Some(s.pages_compared)),
            ("pages_skipped_cow", Some(s.pages_skipped_cow)),
            ("forking_time", Some(s.forking_time as u64)),
            ("restore_time", Some(s.restore_time as u64)),
            ("pages_restored", s.pages_restored),
        ])?,
    };
    Ok((dump, restore))
}

/// Adds the functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(images_loads, m)?)?;
    m.add_function(wrap_pyfunction!(images_dumps, m)?)?;
    m.add_function(wrap_pyfunction!(images_info, m)?)?;
    m.add_function(wrap_pyfunction!(crit_run, m)?)?;
    m.add_function(wrap_pyfunction!(image_stats, m)?)?;
    Ok(())
}
