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

/// Renames camelCase keys (`baseUrl`, `gateway.cacheTtl`, `timeoutMs`) to the snake_case the
/// parsers read, in a profile or options object, of its `gateway` table and of that table's
/// `custom_cost`.
pub fn snake_case_keys(value: &mut Value, path: &str) -> Result<()> {
    let Value::Object(map) = value else {
        // Not an object: core reports it with the right path.
        return Ok(());
    };
    rename_keys(map, path)?;
    if let Some(Value::Object(gateway)) = map.get_mut("gateway") {
        rename_keys(gateway, &format!("{path}.gateway"))?;
        if let Some(Value::Object(cost)) = gateway.get_mut("custom_cost") {
            rename_keys(cost, &format!("{path}.gateway.custom_cost"))?;
        }
    }
    Ok(())
}

fn rename_keys(map: &mut Map<String, Value>, path: &str) -> Result<()> {
    if !map
        .keys()
        .any(|k| k.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Ok(());
    }
    let mut renamed = Map::new();
    for (key, value) in std::mem::take(map) {
        let snake = snake_case(&key);
        if renamed.contains_key(&snake) {
            return Err(Error::config(format!(
                "{path}.{snake} is given twice (camelCase and snake_case spellings); keep one"
            )));
        }
        renamed.insert(snake, value);
    }
    *map = renamed;
    Ok(())
}

/// `connectTimeoutMs` → `connect_timeout_ms`, `baseURL` → `base_url`; snake_case stays as is.
fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let starts_word = match prev {
                None | Some('_') => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) => p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()),
            };
            if starts_word {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_becomes_snake_case_once() {
        assert_eq!(snake_case("connectTimeoutMs"), "connect_timeout_ms");
        assert_eq!(snake_case("baseURL"), "base_url");
        assert_eq!(snake_case("HTTPProxy"), "http_proxy");
        assert_eq!(snake_case("base_url"), "base_url");
        let mut v = serde_json::json!({ "timeoutMs": 5, "gateway": { "cacheTtl": 60,
            "customCost": { "perTokenIn": 1 }, "metadata": { "userId": "kept" } },
            "headers": { "X-Team": "kept" } });
        snake_case_keys(&mut v, "options").unwrap();
        assert_eq!(
            v,
            serde_json::json!({ "timeout_ms": 5, "gateway": { "cache_ttl": 60,
                "custom_cost": { "per_token_in": 1 }, "metadata": { "userId": "kept" } },
                "headers": { "X-Team": "kept" } })
        );
        let mut twice = serde_json::json!({ "timeoutMs": 5, "timeout_ms": 6 });
        let e = snake_case_keys(&mut twice, "options").unwrap_err();
        assert!(
            e.message.contains("options.timeout_ms is given twice"),
            "{}",
            e.message
        );
    }
}
