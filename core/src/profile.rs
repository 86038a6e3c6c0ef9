//! The provider profile (docs/contract.md §3): every field with its default and clamp, parsed from JSON or
//! TOML with unknown fields rejected by path, and config files holding several profiles.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fields::Fields;
use crate::gateway::GatewayOptions;
use crate::secret::{Headers, SecretRef};
use crate::usage::Prices;

/// Inclusive bounds and default of one numeric profile field.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// Field name.
    pub name: &'static str,
    /// Value when absent.
    pub default: u64,
    /// Smallest value kept (smaller values are raised to it).
    pub min: u64,
    /// Largest value kept (larger values are lowered to it).
    pub max: u64,
}

impl Bound {
    fn clamp(&self, v: u64) -> u64 {
        v.clamp(self.min, self.max)
    }
}

/// Declares the numeric fields once: their limits ([`BOUNDS`]) and where each lives in a
/// [`Profile`], so defaults, parsing, clamping and `describe()` all walk the same list.
macro_rules! numeric_fields {
    ($($(#[$doc:meta])* $name:ident: default $default:expr, min $min:expr, max $max:expr;)*) => {
        /// The numeric fields, their defaults and clamps: the single source for parsing, clamping,
        /// `describe()` and the docs. `retry_max_backoff_ms` is further raised to at least
        /// `retry_initial_backoff_ms`, and a `0` cache TTL / stale window disables the cache
        /// (the minimum is 0).
        pub const BOUNDS: [Bound; numeric_fields!(@count $($name)*)] = [
            $($(#[$doc])* Bound { name: stringify!($name), default: $default, min: $min, max: $max },)*
        ];

        impl Profile {
            /// Each numeric field, in [`BOUNDS`] order.
            fn numeric_mut(&mut self) -> [&mut u64; BOUNDS.len()] {
                [$(&mut self.$name,)*]
            }

            /// Each numeric field's value, in [`BOUNDS`] order.
            pub fn numeric(&self) -> [u64; BOUNDS.len()] {
                [$(self.$name,)*]
            }
        }
    };
    (@count $($name:ident)*) => { [$(stringify!($name)),*].len() };
}

numeric_fields! {
    connect_timeout_ms: default 5_000, min 100, max 60_000;
    // Long and reasoning answers take minutes; a short whole-attempt limit re-sends (and bills)
    // them. The OpenAI SDKs use 10 minutes too.
    request_timeout_ms: default 600_000, min 1_000, max 3_600_000;
    stream_idle_timeout_ms: default 300_000, min 1_000, max 3_600_000;
    retry_max_attempts: default 3, min 1, max 8;
    retry_initial_backoff_ms: default 300, min 50, max 10_000;
    retry_max_backoff_ms: default 3_000, min 50, max 30_000;
    model_catalog_cache_ttl_ms: default 30_000, min 0, max 300_000;
    model_catalog_stale_if_error_ms: default 120_000, min 0, max 600_000;
    max_response_bytes: default 32 * 1024 * 1024, min 1024, max 1 << 30;
}

/// Every field a profile accepts, in documentation order.
pub const PROFILE_FIELDS: [&str; 25] = [
    "kind",
    "base_url",
    "account_id",
    "gateway_name",
    "region",
    "endpoint",
    "models_endpoint",
    "model",
    "preferred_models",
    "embedding_model",
    "api_key",
    "api_key_env",
    "headers",
    "allow_http",
    "connect_timeout_ms",
    "request_timeout_ms",
    "stream_idle_timeout_ms",
    "retry_max_attempts",
    "retry_initial_backoff_ms",
    "retry_max_backoff_ms",
    "model_catalog_cache_ttl_ms",
    "model_catalog_stale_if_error_ms",
    "max_response_bytes",
    "prices",
    "gateway",
];

/// One provider profile with defaults applied and numbers clamped.
///
/// Its `Debug` form redacts literal keys and sensitive header values (their own `Debug` does).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Kind id or alias, as configured.
    pub kind: String,
    /// Tenant or custom base URL; `None` means the kind's template.
    pub base_url: Option<String>,
    /// Fills `<account_id>` in the template.
    pub account_id: Option<String>,
    /// Fills `<gateway_name>` in the template.
    pub gateway_name: Option<String>,
    /// Fills `<region>` in the template (Bedrock: `us-east-1`…).
    pub region: Option<String>,
    /// Full chat URL override.
    pub endpoint: Option<String>,
    /// Full models URL override.
    pub models_endpoint: Option<String>,
    /// Explicit model; `None` means catalog discovery (`auto`).
    pub model: Option<String>,
    /// Ordered fallback models, used with `auto`.
    pub preferred_models: Vec<String>,
    /// Model for embeddings when the request names none.
    pub embedding_model: Option<String>,
    /// Secret reference for the key (pool).
    pub api_key: Option<SecretRef>,
    /// Name of an env var to read the key from.
    pub api_key_env: Option<String>,
    /// Headers sent on every request.
    pub headers: Headers,
    /// Permit plain http to a non-loopback host for an https kind.
    pub allow_http: bool,
    /// TCP/TLS connect deadline.
    pub connect_timeout_ms: u64,
    /// Whole attempt (non-streaming) or until response headers (streaming).
    pub request_timeout_ms: u64,
    /// Longest silence between stream bytes.
    pub stream_idle_timeout_ms: u64,
    /// Attempts per model, retries included.
    pub retry_max_attempts: u64,
    /// First backoff delay.
    pub retry_initial_backoff_ms: u64,
    /// Largest backoff delay, and the largest server-requested delay honoured.
    pub retry_max_backoff_ms: u64,
    /// How long a fetched model catalog is fresh; 0 disables caching.
    pub model_catalog_cache_ttl_ms: u64,
    /// How long a stale catalog may stand in when a refresh fails; 0 disables.
    pub model_catalog_stale_if_error_ms: u64,
    /// Largest response body accepted.
    pub max_response_bytes: u64,
    /// Prices per model (USD per million tokens); they win over the catalog's.
    pub prices: Prices,
    /// Cloudflare AI Gateway options.
    pub gateway: GatewayOptions,
}

impl Profile {
    /// A profile of `kind` with every other field at its default.
    pub fn new(kind: impl Into<String>) -> Profile {
        let mut p = Profile {
            kind: kind.into(),
            base_url: None,
            account_id: None,
            gateway_name: None,
            region: None,
            endpoint: None,
            models_endpoint: None,
            model: None,
            preferred_models: Vec::new(),
            embedding_model: None,
            api_key: None,
            api_key_env: None,
            headers: Headers::default(),
            allow_http: false,
            connect_timeout_ms: 0,
            request_timeout_ms: 0,
            stream_idle_timeout_ms: 0,
            retry_max_attempts: 0,
            retry_initial_backoff_ms: 0,
            retry_max_backoff_ms: 0,
            model_catalog_cache_ttl_ms: 0,
            model_catalog_stale_if_error_ms: 0,
            max_response_bytes: 0,
            prices: Prices::default(),
            gateway: GatewayOptions::default(),
        };
        for (slot, b) in p.numeric_mut().into_iter().zip(BOUNDS) {
            *slot = b.default;
        }
        p
    }

    /// Parses a profile from a JSON text (the C ABI's input).
    pub fn from_json_str(text: &str) -> Result<Profile> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("profile is not valid JSON: {e}")))?;
        Profile::from_value(&value, "provider")
    }

    /// Parses a profile from a JSON value; `path` names it in errors (e.g. `providers.prod`).
    pub fn from_value(value: &Value, path: &str) -> Result<Profile> {
        let mut f = Fields::new(value, path)?;
        let kind = f.string("kind")?.ok_or_else(|| {
            Error::config(format!(
                "{path}.kind is required (e.g. \"cloudflare_ai_gateway\")"
            ))
        })?;
        let mut p = Profile::new(kind);
        p.base_url = f.string("base_url")?.filter(|s| !s.trim().is_empty());
        p.account_id = f.string("account_id")?.filter(|s| !s.trim().is_empty());
        p.gateway_name = f.string("gateway_name")?.filter(|s| !s.trim().is_empty());
        p.region = f.string("region")?.filter(|s| !s.trim().is_empty());
        p.endpoint = f.string("endpoint")?.filter(|s| !s.trim().is_empty());
        p.models_endpoint = f
            .string("models_endpoint")?
            .filter(|s| !s.trim().is_empty());
        p.model = f.string("model")?.and_then(|m| normalize_model(&m));
        p.preferred_models = f.string_list("preferred_models")?;
        p.embedding_model = f
            .string("embedding_model")?
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty());
        if let Some(v) = f.take("api_key") {
            p.api_key = Some(SecretRef::from_value(v, &f.child("api_key"))?);
        }
        p.api_key_env = f.string("api_key_env")?.filter(|s| !s.trim().is_empty());
        p.headers = Headers::from_pairs(f.string_map("headers")?, &f.child("headers"))?;
        p.allow_http = f.bool("allow_http")?.unwrap_or(false);
        for (slot, b) in p.numeric_mut().into_iter().zip(BOUNDS) {
            *slot = f.u64(b.name)?.map_or(b.default, |v| b.clamp(v));
        }
        p.retry_max_backoff_ms = p.retry_max_backoff_ms.max(p.retry_initial_backoff_ms);
        if let Some(v) = f.take("prices") {
            p.prices = Prices::from_value(v, &f.child("prices"))?;
        }
        if let Some(v) = f.take("gateway") {
            p.gateway = GatewayOptions::from_value(v, &f.child("gateway"))?;
        }
        f.finish()?;
        Ok(p)
    }

    /// Applies the clamps of [`BOUNDS`] to a profile built by hand in Rust.
    pub fn clamped(mut self) -> Profile {
        for (slot, b) in self.numeric_mut().into_iter().zip(BOUNDS) {
            *slot = b.clamp(*slot);
        }
        self.retry_max_backoff_ms = self.retry_max_backoff_ms.max(self.retry_initial_backoff_ms);
        self.model = self.model.as_deref().and_then(normalize_model);
        self
    }
}

/// `""` and `auto` (any case) mean catalog discovery.
fn normalize_model(model: &str) -> Option<String> {
    let m = model.trim();
    if m.is_empty() || m.eq_ignore_ascii_case("auto") {
        None
    } else {
        Some(m.to_string())
    }
}

/// A config file: named profiles plus the active one.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// `active_provider`, when set.
    pub active_provider: Option<String>,
    /// Profiles by id, in file order.
    pub providers: Vec<(String, Profile)>,
}

impl ConfigFile {
    /// Reads a TOML or JSON config file (`.json` → JSON, `.toml` → TOML, else sniffed).
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        let is_json = match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => true,
            Some(ext) if ext.eq_ignore_ascii_case("toml") => false,
            _ => text.trim_start().starts_with('{'),
        };
        let parsed = if is_json {
            ConfigFile::from_json_str(&text)
        } else {
            ConfigFile::from_toml_str(&text)
        };
        parsed.map_err(|mut e| {
            e.message = format!("{}: {}", path.display(), e.message);
            e
        })
    }

    /// Parses a TOML config. Errors give line and column, never the offending line's text
    /// (it may hold a key).
    pub fn from_toml_str(text: &str) -> Result<ConfigFile> {
        let value: Value = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (line, col) = line_col(text, s.start);
                    format!(" at line {line} column {col}")
                })
                .unwrap_or_default();
            Error::config(format!(
                "config is not valid TOML{at}: {}",
                e.message().trim()
            ))
        })?;
        ConfigFile::from_value(&value)
    }

    /// Parses a JSON config.
    pub fn from_json_str(text: &str) -> Result<ConfigFile> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("config is not valid JSON: {e}")))?;
        ConfigFile::from_value(&value)
    }

    /// Parses a config from a JSON value.
    pub fn from_value(value: &Value) -> Result<ConfigFile> {
        let mut f = Fields::new(value, "config")?;
        let active_provider = f.string("active_provider")?;
        let mut providers = Vec::new();
        if let Some(table) = f.take("providers") {
            let Value::Object(map) = table else {
                return Err(Error::config("providers must be a table of profiles"));
            };
            for (id, body) in map {
                if !valid_profile_id(id) {
                    return Err(Error::config(format!(
                        "profile id `{id}` is invalid: use lowercase letters, digits, `_` and `-`, starting with a letter or digit"
                    )));
                }
                providers.push((
                    id.clone(),
                    Profile::from_value(body, &format!("providers.{id}"))?,
                ));
            }
        }
        f.finish()?;
        Ok(ConfigFile {
            active_provider,
            providers,
        })
    }

    /// Picks a profile: `id`, else `active_provider`, else the only one.
    pub fn select(&self, id: Option<&str>) -> Result<(String, Profile)> {
        let candidates = || {
            let ids: Vec<&str> = self.providers.iter().map(|(id, _)| id.as_str()).collect();
            if ids.is_empty() {
                "none are defined".to_string()
            } else {
                format!("candidates: {}", ids.join(", "))
            }
        };
        let find = |wanted: &str, why: &str| {
            self.providers
                .iter()
                .find(|(id, _)| id == wanted)
                .cloned()
                .ok_or_else(|| {
                    Error::config(format!(
                        "{why} `{wanted}` is not a profile in [providers]; {}",
                        candidates()
                    ))
                })
        };
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            return find(id, "profile");
        }
        if let Some(active) = &self.active_provider {
            return find(active, "active_provider");
        }
        match self.providers.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(Error::config(format!(
                "cannot choose a profile: set active_provider or pass a profile id; {}",
                candidates()
            ))),
        }
    }
}

/// Profile ids match `[a-z0-9][a-z0-9_-]*`.
pub fn valid_profile_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}
