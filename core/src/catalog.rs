//! The model catalog (docs/contract.md §5): parsing list-models answers, ranking candidates with the
//! preferred models, and a per-client cache with a TTL and a stale-if-error window.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::profile::Profile;

/// What to do when the catalog fails and no model is configured.
pub const LIST_MODELS_RECOVERY: &str =
    "list-models is unreliable for this account or region: pin an explicit provider.model or add preferred_models";

/// Model entries from a list-models body: `data[]`, `models[]` or a bare array; each entry a
/// string or an object with `id` (entries without an id are skipped).
pub fn parse_models(body: &Value) -> Result<Vec<Value>> {
    let items = match body {
        Value::Array(items) => items,
        // Bedrock's ListFoundationModels: `modelSummaries[].modelId`, given an `id` too.
        Value::Object(map) if map.get("modelSummaries").is_some_and(Value::is_array) => {
            let items = map.get("modelSummaries").and_then(Value::as_array);
            return Ok(items
                .into_iter()
                .flatten()
                .filter_map(|entry| {
                    let mut entry = entry.as_object()?.clone();
                    let id = entry.get("modelId")?.clone();
                    entry.insert("id".to_string(), id);
                    Some(Value::Object(entry))
                })
                .collect());
        }
        Value::Object(map) => match (map.get("data"), map.get("models")) {
            (Some(Value::Array(items)), _) | (None, Some(Value::Array(items))) => items,
            _ => {
                return Err(Error::protocol(
                    "models response has no `data` or `models` list",
                ))
            }
        },
        _ => {
            return Err(Error::protocol(
                "models response is not a JSON object or list",
            ))
        }
    };
    Ok(items
        .iter()
        .filter_map(|item| match item {
            Value::String(id) => Some(serde_json::json!({ "id": id })),
            Value::Object(obj) if obj.get("id").is_some_and(Value::is_string) => Some(item.clone()),
            _ => None,
        })
        .collect())
}

/// The id of a catalog entry.
pub fn model_id(entry: &Value) -> Option<&str> {
    entry.get("id").and_then(Value::as_str)
}

/// Candidates in order: each preferred model present in the catalog (exact match, else
/// case-insensitive; the catalog's spelling is used), then the rest in catalog order.
pub fn rank(catalog: &[String], preferred: &[String]) -> Vec<String> {
    let mut ranked: Vec<String> = Vec::with_capacity(catalog.len());
    for want in preferred {
        let hit = catalog
            .iter()
            .find(|id| *id == want)
            .or_else(|| catalog.iter().find(|id| id.eq_ignore_ascii_case(want)));
        if let Some(id) = hit {
            if !ranked.contains(id) {
                ranked.push(id.clone());
            }
        }
    }
    for id in catalog {
        if !ranked.contains(id) {
            ranked.push(id.clone());
        }
    }
    ranked
}

/// A cached catalog and when it was fetched.
#[derive(Debug, Default)]
pub struct CatalogCache {
    slot: Mutex<Option<(Instant, Arc<Vec<Value>>)>>,
}

impl CatalogCache {
    /// The cached entries if younger than `ttl` (a zero TTL never hits).
    pub fn fresh(&self, ttl: Duration) -> Option<Arc<Vec<Value>>> {
        self.get_within(ttl)
    }

    /// The cached entries if younger than `ttl + stale` (for use when a refresh failed).
    pub fn stale(&self, ttl: Duration, stale: Duration) -> Option<Arc<Vec<Value>>> {
        if stale.is_zero() {
            return None;
        }
        self.get_within(ttl + stale)
    }

    fn get_within(&self, age: Duration) -> Option<Arc<Vec<Value>>> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some((at, models)) if !age.is_zero() && at.elapsed() < age => Some(models.clone()),
            _ => None,
        }
    }

    /// The last fetched entries, however old (prices for `aigw.cost`; never a reason to fetch).
    pub fn latest(&self) -> Option<Arc<Vec<Value>>> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().map(|(_, models)| models.clone())
    }

    /// Stores a freshly fetched catalog (shared, not copied, by later readers).
    pub fn store(&self, models: Arc<Vec<Value>>) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some((Instant::now(), models));
    }
}

/// Candidate models in order (docs/contract.md §5): the request's model, else the profile's,
/// else the catalog (fresh from `cache`, else from `fetch`, else stale within the profile's
/// window) ranked by `preferred_models`, else the preferred models alone.
pub fn candidates(
    profile: &Profile,
    cache: &CatalogCache,
    request_model: Option<&str>,
    fetch: impl FnOnce() -> Result<Arc<Vec<Value>>>,
) -> Result<Vec<String>> {
    if let Some(m) = request_model.filter(|m| !m.trim().is_empty()) {
        return Ok(vec![m.to_string()]);
    }
    if let Some(m) = &profile.model {
        return Ok(vec![m.clone()]);
    }
    let ttl = Duration::from_millis(profile.model_catalog_cache_ttl_ms);
    let ranked = |models: &[Value]| {
        let ids: Vec<String> = models
            .iter()
            .filter_map(model_id)
            .map(str::to_string)
            .collect();
        rank(&ids, &profile.preferred_models)
    };
    let catalog = match cache.fresh(ttl) {
        Some(models) => Ok(models),
        None => fetch(),
    };
    let e = match catalog {
        Ok(models) if models.is_empty() => {
            return Err(Error::new(
                ErrorCode::ModelSelection,
                "the model catalog is empty; set provider.model explicitly",
            ))
        }
        Ok(models) => return Ok(ranked(&models)),
        Err(e) => e,
    };
    let stale = Duration::from_millis(profile.model_catalog_stale_if_error_ms);
    if let Some(models) = cache.stale(ttl, stale) {
        return Ok(ranked(&models));
    }
    if !profile.preferred_models.is_empty() {
        return Ok(profile.preferred_models.clone());
    }
    if matches!(e.code, ErrorCode::Config | ErrorCode::MissingCredentials) {
        return Err(e);
    }
    let mut err = Error::new(
        ErrorCode::ModelSelection,
        format!(
            "{LIST_MODELS_RECOVERY} (model catalog failed: {})",
            e.message
        ),
    );
    err.http_status = e.http_status;
    err.provider_code = e.provider_code;
    err.request_id = e.request_id;
    err.attempts = e.attempts;
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ranking() {
        let catalog = s(&["a", "B", "c"]);
        assert_eq!(rank(&catalog, &s(&["c", "b", "zz"])), s(&["c", "B", "a"]));
        assert_eq!(rank(&catalog, &[]), catalog);
    }

    #[test]
    fn parse_shapes() {
        let a =
            parse_models(&serde_json::json!({"data":[{"id":"x"},"y",{"name":"no-id"}]})).unwrap();
        assert_eq!(
            a.iter().filter_map(model_id).collect::<Vec<_>>(),
            ["x", "y"]
        );
        let b = parse_models(&serde_json::json!({"models":["m"]})).unwrap();
        assert_eq!(b.len(), 1);
        let c = parse_models(&serde_json::json!(["z"])).unwrap();
        assert_eq!(c.len(), 1);
        assert!(parse_models(&serde_json::json!({"hello":1})).is_err());
    }
}
