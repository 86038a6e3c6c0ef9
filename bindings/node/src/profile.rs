//! Profiles and per-request options as JavaScript writes them: camelCase keys (`baseUrl`,
//! `gateway.cacheTtl`, `timeoutMs`) become the snake_case of docs/contract.md §3/§6/§7 before core parses
//! them. Keys the user owns (`headers`, `gateway.metadata`, secret references) are left alone.

use aigw_core::{Error, Profile, RequestOptions};
use serde_json::{Map, Value};

/// Parses the profile JSON text that `index.js` sends.
pub(crate) fn profile_from_json(text: &str) -> Result<Profile, Error> {
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| Error::config(format!("profile is not valid JSON: {e}")))?;
    snake_case_keys(&mut value, "provider")?;
    Profile::from_value(&value, "provider")
}

/// Parses the options JSON text (`{ gateway, headers, timeoutMs }`); `None` or `null` is none.
pub(crate) fn options_from_json(text: Option<&str>) -> Result<RequestOptions, Error> {
    let Some(text) = text else {
        return Ok(RequestOptions::default());
    };
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("options are not valid JSON: {e}")))?;
    if value.is_null() {
        return Ok(RequestOptions::default());
    }
    snake_case_keys(&mut value, "options")?;
    RequestOptions::from_value(&value)
}

/// Renames the keys of a profile or options object, of its `gateway` table and of that table's
/// `custom_cost`.
fn snake_case_keys(value: &mut Value, path: &str) -> Result<(), Error> {
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

fn rename_keys(map: &mut Map<String, Value>, path: &str) -> Result<(), Error> {
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
