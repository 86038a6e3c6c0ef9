//! `serde_json::Value` ↔ Python objects, converted directly (no JSON text in between).
//! Python → JSON accepts dicts and other mappings with `str` keys, lists, tuples and other
//! sequences, `str`, `int`, finite `float`, `bool` and `None`; anything else is an
//! `InvalidArgumentError` naming where in the argument it sits.

use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PySequence, PyString,
    PyTuple,
};
use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused rather than risking the native stack (and it catches
/// self-referencing containers).
const MAX_DEPTH: usize = 200;

/// A JSON value as the matching Python object (`dict`, `list`, `str`, `int`, `float`, `bool`,
/// `None`).
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
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
            for (key, item) in map {
                dict.set_item(PyString::new(py, key), to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A list of JSON values as a Python `list`.
pub fn list_to_py<'py>(py: Python<'py>, values: &[Value]) -> PyResult<Bound<'py, PyAny>> {
    let list = PyList::empty(py);
    for value in values {
        list.append(to_py(py, value)?)?;
    }
    Ok(list.into_any())
}

/// Why a Python object could not become JSON, and where: `path` is filled while unwinding.
pub struct ConversionError {
    message: String,
    path: Vec<String>,
}

impl ConversionError {
    fn new(message: impl Into<String>) -> ConversionError {
        ConversionError {
            message: message.into(),
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: String) -> ConversionError {
        self.path.push(segment);
        self
    }

    /// The message with the location, e.g. `messages[0].content: unsupported type set`; an
    /// empty `root` (keyword arguments) starts at the first key.
    pub fn describe(&self, root: &str) -> String {
        let mut location = root.to_string();
        for segment in self.path.iter().rev() {
            location.push_str(segment);
        }
        let location = location.strip_prefix('.').unwrap_or(&location);
        format!("{location}: {}", self.message)
    }
}

impl From<PyErr> for ConversionError {
    fn from(e: PyErr) -> ConversionError {
        ConversionError::new(e.to_string())
    }
}

/// A Python object as JSON. `Err` carries the location for the caller's message.
pub fn to_value(obj: &Bound<'_, PyAny>) -> Result<Value, ConversionError> {
    convert(obj, 0)
}

/// A `dict` (e.g. `**kwargs`) as a JSON object.
pub fn dict_to_map(dict: &Bound<'_, PyDict>) -> Result<Map<String, Value>, ConversionError> {
    dict_entries(dict, 0)
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ConversionError> {
    if depth > MAX_DEPTH {
        return Err(ConversionError::new(format!(
            "nested deeper than {MAX_DEPTH} levels (or contains itself)"
        )));
    }
    // Most frequent types first: request bodies are dicts of strings and lists.
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return Ok(Value::Object(dict_entries(dict, depth)?));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return sequence(list.iter(), depth);
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(ConversionError::new(
            "integer does not fit in 64 bits (JSON numbers here are i64/u64)",
        ));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| ConversionError::new("NaN and infinity have no JSON form"));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return sequence(tuple.iter(), depth);
    }
    if obj.cast::<PyBytes>().is_ok() || obj.cast::<PyByteArray>().is_ok() {
        return Err(ConversionError::new(
            "bytes have no JSON form; decode them to str first",
        ));
    }
    // Slow path for user types: any Mapping or Sequence (e.g. a MappingProxy or a deque).
    if let Ok(mapping) = obj.cast::<PyMapping>() {
        let mut map = Map::new();
        for item in mapping.items()?.iter() {
            let (key, value) = item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()?;
            let key = dict_key(&key)?;
            let value = convert(&value, depth + 1).map_err(|e| e.at(format!(".{key}")))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(seq) = obj.cast::<PySequence>() {
        let items = seq
            .try_iter()?
            .collect::<PyResult<Vec<Bound<'_, PyAny>>>>()?;
        return sequence(items.into_iter(), depth);
    }
    Err(ConversionError::new(format!(
        "unsupported type {} (expected dict, list, str, int, float, bool or None)",
        type_name(obj)
    )))
}

fn dict_key(key: &Bound<'_, PyAny>) -> Result<String, ConversionError> {
    match key.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.to_owned()),
        Err(_) => Err(ConversionError::new(format!(
            "object keys must be str, not {}",
            type_name(key)
        ))),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_string())
}

fn dict_entries(
    dict: &Bound<'_, PyDict>,
    depth: usize,
) -> Result<Map<String, Value>, ConversionError> {
    let mut map = Map::new();
    for (key, value) in dict.iter() {
        let key = dict_key(&key)?;
        let value = convert(&value, depth + 1).map_err(|e| e.at(format!(".{key}")))?;
        map.insert(key, value);
    }
    Ok(map)
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> Result<Value, ConversionError> {
    let mut out = Vec::with_capacity(items.size_hint().0);
    for (index, item) in items.enumerate() {
        out.push(convert(&item, depth + 1).map_err(|e| e.at(format!("[{index}]")))?);
    }
    Ok(Value::Array(out))
}

/// A value shared with the thread that updates it (a stream's metadata), as a Python object.
pub(crate) fn shared_to_py<'py>(
    py: Python<'py>,
    value: &std::sync::Mutex<Value>,
) -> PyResult<Bound<'py, PyAny>> {
    let value = value
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    to_py(py, &value)
}
