//! Profiles and per-request options as JavaScript writes them: camelCase keys (`baseUrl`,
//! `gateway.cacheTtl`, `timeoutMs`) become the snake_case of docs/contract.md §3/§6/§7 through
//! core's `fields::snake_case_keys` (options do so in core for every language).

use aigw_core::{Error, Profile, RequestOptions};
use serde_json::Value;

/// Parses the profile JSON text that `index.js` sends.
pub(crate) fn profile_from_json(text: &str) -> Result<Profile, Error> {
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| Error::config(format!("profile is not valid JSON: {e}")))?;
    aigw_core::fields::snake_case_keys(&mut value, "provider")?;
    Profile::from_value(&value, "provider")
}

/// Parses the options JSON text (`{ gateway, headers, timeoutMs }`); `None` or `null` is none.
pub(crate) fn options_from_json(text: Option<&str>) -> Result<RequestOptions, Error> {
    let Some(text) = text else {
        return Ok(RequestOptions::default());
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("options are not valid JSON: {e}")))?;
    if value.is_null() {
        return Ok(RequestOptions::default());
    }
    RequestOptions::from_value(&value)
}
