//! Reading one JSON/TOML table of configuration: typed getters that name the field's full path in
//! errors, and a check that every field was taken (a typo is an error, never ignored).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Reads the fields of one JSON object, remembering which were taken so that leftovers
/// (typos) are reported with their full path.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    taken: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(value: &'a Value, path: &str) -> Result<Fields<'a>> {
        match value {
            Value::Object(map) => Ok(Fields {
                map,
                path: path.to_string(),
                taken: Vec::new(),
            }),
            _ => Err(Error::config(format!("{path} must be an object/table"))),
        }
    }

    pub(crate) fn child(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// The raw value of `name`; JSON `null` counts as absent.
    pub(crate) fn take(&mut self, name: &'a str) -> Option<&'a Value> {
        self.taken.push(name);
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&mut self, name: &'a str) -> Result<Option<String>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::config(format!(
                "{} must be a string",
                self.child(name)
            ))),
        }
    }

    pub(crate) fn bool(&mut self, name: &'a str) -> Result<Option<bool>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::config(format!(
                "{} must be true or false",
                self.child(name)
            ))),
        }
    }

    pub(crate) fn u64(&mut self, name: &'a str) -> Result<Option<u64>> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                Error::config(format!(
                    "{} must be a non-negative integer",
                    self.child(name)
                ))
            }),
        }
    }

    pub(crate) fn string_list(&mut self, name: &'a str) -> Result<Vec<String>> {
        let path = self.child(name);
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::config(format!("{path} must be a list of strings"))),
            Some(_) => Err(Error::config(format!("{path} must be a list of strings"))),
        }
    }

    pub(crate) fn string_map(&mut self, name: &'a str) -> Result<Vec<(String, String)>> {
        let path = self.child(name);
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(Error::config(format!("{path}.{k} must be a string"))),
                })
                .collect(),
            Some(_) => Err(Error::config(format!("{path} must be a table of strings"))),
        }
    }

    /// Fails on the first field that was never taken.
    pub(crate) fn finish(self) -> Result<()> {
        match self.map.keys().find(|k| !self.taken.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(Error::config(format!(
                "unknown field `{}.{k}`; accepted fields: {}",
                self.path,
                self.taken.join(", ")
            ))),
        }
    }
}
