//! Token usage in one shape whatever the upstream (docs/contract.md §14), and what it cost.
//!
//! Providers count differently: OpenAI's `prompt_tokens` *include* the cached prompt tokens,
//! Anthropic's `input_tokens` and Bedrock's `inputTokens` exclude cache reads and writes. aigw's
//! `usage` separates them, so `input_tokens` is always the uncached part and
//! `total_tokens = input + cached_input + cache_write + output`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::fields::Fields;

/// Usage in aigw's shape; `None` where the upstream did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens not read from a cache.
    pub input_tokens: Option<u64>,
    /// Prompt tokens read from a cache.
    pub cached_input_tokens: Option<u64>,
    /// Prompt tokens written to a cache.
    pub cache_write_tokens: Option<u64>,
    /// Reasoning tokens (already counted in `output_tokens`).
    pub reasoning_tokens: Option<u64>,
    /// Generated tokens, reasoning included.
    pub output_tokens: Option<u64>,
    /// `input + cached_input + cache_write + output`.
    pub total_tokens: Option<u64>,
}

fn count(v: &Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, key| v.get(key))?.as_u64()
}

impl Usage {
    /// Normalises an upstream `usage` object (OpenAI chat or Responses, Anthropic, Bedrock).
    /// Anything else (or nothing) gives all fields `None`.
    /// One branch per provider shape, side by side so they can be compared.
    pub fn from_upstream(usage: Option<&Value>) -> Usage {
        let Some(u) = usage.filter(|u| u.is_object()) else {
            return Usage::default();
        };
        let mut out = if u.get("prompt_tokens").is_some() || u.get("completion_tokens").is_some() {
            // OpenAI chat: prompt_tokens include the cached ones.
            let cached = count(u, &["prompt_tokens_details", "cached_tokens"]);
            Usage {
                input_tokens: count(u, &["prompt_tokens"])
                    .map(|p| p.saturating_sub(cached.unwrap_or(0))),
                cached_input_tokens: cached,
                cache_write_tokens: None,
                reasoning_tokens: count(u, &["completion_tokens_details", "reasoning_tokens"]),
                output_tokens: count(u, &["completion_tokens"]),
                total_tokens: None,
            }
        } else if u.get("input_tokens_details").is_some() {
            // OpenAI Responses: input_tokens include the cached ones.
            let cached = count(u, &["input_tokens_details", "cached_tokens"]);
            Usage {
                input_tokens: count(u, &["input_tokens"])
                    .map(|p| p.saturating_sub(cached.unwrap_or(0))),
                cached_input_tokens: cached,
                cache_write_tokens: None,
                reasoning_tokens: count(u, &["output_tokens_details", "reasoning_tokens"]),
                output_tokens: count(u, &["output_tokens"]),
                total_tokens: None,
            }
        } else if u.get("inputTokens").is_some() || u.get("outputTokens").is_some() {
            // Bedrock Converse: inputTokens exclude cache reads and writes.
            Usage {
                input_tokens: count(u, &["inputTokens"]),
                cached_input_tokens: count(u, &["cacheReadInputTokens"]),
                cache_write_tokens: count(u, &["cacheWriteInputTokens"]),
                reasoning_tokens: None,
                output_tokens: count(u, &["outputTokens"]),
                total_tokens: None,
            }
        } else {
            // Anthropic Messages: input_tokens exclude cache reads and writes.
            Usage {
                input_tokens: count(u, &["input_tokens"]),
                cached_input_tokens: count(u, &["cache_read_input_tokens"]),
                cache_write_tokens: count(u, &["cache_creation_input_tokens"]),
                reasoning_tokens: None,
                output_tokens: count(u, &["output_tokens"]),
                total_tokens: None,
            }
        };
        if out.input_tokens.is_some() || out.output_tokens.is_some() {
            out.total_tokens = Some(
                [
                    out.input_tokens,
                    out.cached_input_tokens,
                    out.cache_write_tokens,
                    out.output_tokens,
                ]
                .iter()
                .map(|n| n.unwrap_or(0))
                .fold(0u64, u64::saturating_add),
            );
        }
        out
    }

    /// Whether the upstream said anything at all.
    pub fn is_known(&self) -> bool {
        self.total_tokens.is_some()
    }

    /// The `usage` object of the `"aigw"` metadata.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl serde::Serialize for Usage {
    /// Keys in sorted order, as a JSON tree writes them.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("cache_write_tokens", &self.cache_write_tokens)?;
        map.serialize_entry("cached_input_tokens", &self.cached_input_tokens)?;
        map.serialize_entry("input_tokens", &self.input_tokens)?;
        map.serialize_entry("output_tokens", &self.output_tokens)?;
        map.serialize_entry("reasoning_tokens", &self.reasoning_tokens)?;
        map.serialize_entry("total_tokens", &self.total_tokens)?;
        map.end()
    }
}

/// Prices of one model in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Uncached input (and cache writes).
    pub input_per_mtok: f64,
    /// Output, reasoning included.
    pub output_per_mtok: f64,
    /// Cached input; the input price when unset.
    pub cached_input_per_mtok: Option<f64>,
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    /// The profile's `prices` table.
    Profile,
    /// The model catalog's `cost_in` / `cost_out`.
    Catalog,
}

impl PriceSource {
    fn as_str(self) -> &'static str {
        match self {
            PriceSource::Profile => "profile",
            PriceSource::Catalog => "catalog",
        }
    }
}

/// The profile's `prices` table: model id → prices (USD per million tokens).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices(pub BTreeMap<String, Price>);

impl Prices {
    /// Parses `{ "<model>": { input_per_mtok, output_per_mtok, cached_input_per_mtok } }`.
    pub fn from_value(value: &Value, path: &str) -> Result<Prices> {
        let Value::Object(models) = value else {
            return Err(Error::config(format!(
                "{path} must be a table of model ids to prices"
            )));
        };
        let mut prices = BTreeMap::new();
        for (model, entry) in models {
            let entry_path = format!("{path}.{model}");
            let mut f = Fields::new(entry, &entry_path)?;
            let mut price = |name: &'static str| -> Result<Option<f64>> {
                match f.take(name) {
                    None => Ok(None),
                    Some(v) => match v.as_f64() {
                        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                        _ => Err(Error::config(format!(
                            "{entry_path}.{name} must be a non-negative number (USD per million tokens)"
                        ))),
                    },
                }
            };
            let input = price("input_per_mtok")?;
            let output = price("output_per_mtok")?;
            let cached = price("cached_input_per_mtok")?;
            f.finish()?;
            let (Some(input_per_mtok), Some(output_per_mtok)) = (input, output) else {
                return Err(Error::config(format!(
                    "{entry_path} needs input_per_mtok and output_per_mtok (USD per million tokens)"
                )));
            };
            prices.insert(
                model.clone(),
                Price {
                    input_per_mtok,
                    output_per_mtok,
                    cached_input_per_mtok: cached,
                },
            );
        }
        Ok(Prices(prices))
    }

    /// The table as `describe()` shows it.
    pub fn to_json(&self) -> Value {
        let map: Map<String, Value> = self
            .0
            .iter()
            .map(|(model, p)| {
                (
                    model.clone(),
                    json!({
                        "input_per_mtok": p.input_per_mtok,
                        "output_per_mtok": p.output_per_mtok,
                        "cached_input_per_mtok": p.cached_input_per_mtok,
                    }),
                )
            })
            .collect();
        Value::Object(map)
    }
}

/// Cloudflare's `/compat/models` entries state `cost_in` / `cost_out` in USD per token
/// (`openai/gpt-5.2`: `0.00000175` / `0.000014`, i.e. $1.75 / $14 per million), the unit of
/// `cf-aig-custom-cost` too; this converts them to USD per million tokens.
pub const CATALOG_COST_UNIT_PER_MTOK: f64 = 1_000_000.0;

/// The price of `model`: the profile's table wins over the catalog entry's `cost_in` /
/// `cost_out` (both needed; both zero means the catalog does not know, not that it is free).
pub fn price_for(
    prices: &Prices,
    catalog: Option<&[Value]>,
    model: &str,
) -> Option<(Price, PriceSource)> {
    if let Some(p) = prices.0.get(model) {
        return Some((*p, PriceSource::Profile));
    }
    let entry = catalog?
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(model))?;
    let cost = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_f64)
            .filter(|x| x.is_finite() && *x >= 0.0)
    };
    let (cost_in, cost_out) = (cost("cost_in")?, cost("cost_out")?);
    if cost_in == 0.0 && cost_out == 0.0 {
        return None;
    }
    Some((
        Price {
            input_per_mtok: cost_in * CATALOG_COST_UNIT_PER_MTOK,
            output_per_mtok: cost_out * CATALOG_COST_UNIT_PER_MTOK,
            cached_input_per_mtok: None,
        },
        PriceSource::Catalog,
    ))
}

/// `{ "usd": n, "source": "catalog" | "profile" }`, or `null` without usage or a price.
pub fn cost_json(usage: &Usage, price: Option<(Price, PriceSource)>) -> Value {
    let Some((p, source)) = price.filter(|_| usage.is_known()) else {
        return Value::Null;
    };
    let n = |v: Option<u64>| v.unwrap_or(0) as f64;
    let micro_usd = n(usage.input_tokens) * p.input_per_mtok
        + n(usage.cached_input_tokens) * p.cached_input_per_mtok.unwrap_or(p.input_per_mtok)
        + n(usage.cache_write_tokens) * p.input_per_mtok
        + n(usage.output_tokens) * p.output_per_mtok;
    json!({ "usd": micro_usd / 1_000_000.0, "source": source.as_str() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_prompt_tokens_include_the_cached_ones() {
        let u = Usage::from_upstream(Some(&json!({
            "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
            "prompt_tokens_details": { "cached_tokens": 60 },
            "completion_tokens_details": { "reasoning_tokens": 5 }
        })));
        assert_eq!(
            (
                u.input_tokens,
                u.cached_input_tokens,
                u.output_tokens,
                u.total_tokens
            ),
            (Some(40), Some(60), Some(20), Some(120))
        );
        assert_eq!(u.reasoning_tokens, Some(5));
    }

    #[test]
    fn cost_uses_the_cached_price_for_cached_tokens() {
        let u = Usage::from_upstream(Some(&json!({
            "prompt_tokens": 1_000_000, "completion_tokens": 1_000_000,
            "prompt_tokens_details": { "cached_tokens": 500_000 }
        })));
        let price = Price {
            input_per_mtok: 2.0,
            output_per_mtok: 8.0,
            cached_input_per_mtok: Some(0.5),
        };
        let cost = cost_json(&u, Some((price, PriceSource::Profile)));
        assert_eq!(cost, json!({ "usd": 9.25, "source": "profile" }));
        assert_eq!(
            cost_json(&Usage::default(), Some((price, PriceSource::Profile))),
            Value::Null
        );
    }
}
