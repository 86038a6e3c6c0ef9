//! The compiled-in provider registry: the 45 built-in kinds of `providers.json`, kept as data and
//! parsed once. Lookup by id or alias, with "did you mean" suggestions for typos.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};

const PROVIDERS_JSON: &str = include_str!("../data/providers.json");

/// How a kind expects its API key to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `x-api-key: <key>`.
    XApiKey,
}

impl AuthScheme {
    /// The scheme's name as in `providers.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "bearer",
            AuthScheme::XApiKey => "x_api_key",
        }
    }
}

/// The wire protocol a kind speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolFamily {
    /// OpenAI `/chat/completions`; fully served.
    OpenaiChatCompletions,
    /// Anthropic `/v1/messages`; served by translation (`crate::anthropic`).
    AnthropicMessages,
    /// AWS Bedrock Converse; chat returns `UNSUPPORTED` for now.
    BedrockConverse,
}

impl ProtocolFamily {
    /// The family's name as in `providers.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolFamily::OpenaiChatCompletions => "openai_chat_completions",
            ProtocolFamily::AnthropicMessages => "anthropic_messages",
            ProtocolFamily::BedrockConverse => "bedrock_converse",
        }
    }
}

/// One built-in provider kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderKind {
    /// Canonical id, e.g. `cloudflare_ai_gateway`.
    pub id: String,
    /// Human name.
    pub display_name: String,
    /// Provider group, e.g. "Gateway And Compatibility Providers" (absent for a few kinds).
    pub group: Option<String>,
    /// Wire protocol.
    pub protocol_family: ProtocolFamily,
    /// Feature family, e.g. `openai_compatible`.
    pub feature_family: String,
    /// How the key is sent.
    pub auth_scheme: AuthScheme,
    /// Other names that resolve to this kind.
    pub aliases: Vec<String>,
    /// Default base URL; may hold `<placeholders>`.
    pub default_base_url: String,
    /// Path of the chat endpoint, joined to the base URL.
    pub chat_path: String,
    /// Path of the models endpoint, joined to the base URL.
    pub models_path: Option<String>,
    /// Absolute models URL, used instead of `models_path` when set.
    pub models_url: Option<String>,
    /// The env var read for the key by default.
    pub default_api_key_env: Option<String>,
    /// Further env vars tried, in order.
    pub api_key_env_aliases: Vec<String>,
    /// OAuth token env vars.
    pub oauth_envs: Vec<String>,
    /// Every credential env of the kind, as the reference registry lists them.
    pub credential_envs: Vec<String>,
    /// Whether requests may go out without a key.
    pub auth_optional: bool,
    /// Whether the models endpoint may be probed without a key.
    pub model_probe_auth_optional: bool,
    /// Whether the base URL must be tenant-specific (placeholders replaced).
    pub requires_tenant_base_url: bool,
    /// Headers sent on every request of this kind.
    pub default_headers: BTreeMap<String, String>,
}

impl ProviderKind {
    /// Env vars tried for the key, in aigw's precedence order (docs/contract.md §4): default env, aliases,
    /// then OAuth token envs. The same set as [`ProviderKind::credential_envs`], ordered for lookup.
    pub fn key_env_chain(&self) -> Vec<&str> {
        self.default_api_key_env
            .iter()
            .chain(self.api_key_env_aliases.iter())
            .chain(self.oauth_envs.iter())
            .map(String::as_str)
            .collect()
    }

    /// The registry entry as JSON (the fields of docs/contract.md §2).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "display_name": self.display_name,
            "group": self.group,
            "protocol_family": self.protocol_family.as_str(),
            "feature_family": self.feature_family,
            "auth_scheme": self.auth_scheme.as_str(),
            "aliases": self.aliases,
            "default_base_url": self.default_base_url,
            "chat_path": self.chat_path,
            "models_path": self.models_path,
            "models_url": self.models_url,
            "default_api_key_env": self.default_api_key_env,
            "api_key_env_aliases": self.api_key_env_aliases,
            "oauth_envs": self.oauth_envs,
            "credential_envs": self.credential_envs,
            "auth_optional": self.auth_optional,
            "model_probe_auth_optional": self.model_probe_auth_optional,
            "requires_tenant_base_url": self.requires_tenant_base_url,
            "default_headers": self.default_headers,
        })
    }
}

#[derive(Deserialize)]
struct ProvidersFile {
    providers: Vec<ProviderKind>,
}

/// All built-in kinds, in `providers.json` order.
pub fn providers() -> &'static [ProviderKind] {
    static TABLE: OnceLock<Vec<ProviderKind>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // Compiled-in data, checked by the registry tests: failing here is a build defect.
        serde_json::from_str::<ProvidersFile>(PROVIDERS_JSON)
            .expect("core/data/providers.json is valid")
            .providers
    })
}

/// The registry as a JSON array (what `providers()` returns in every language).
pub fn providers_json() -> serde_json::Value {
    serde_json::Value::Array(providers().iter().map(ProviderKind::to_json).collect())
}

/// Resolves an id or alias (trimmed, case-insensitive) to its kind.
///
/// An unknown name is a `CONFIG` error naming the closest ids and aliases.
pub fn resolve_kind(name: &str) -> Result<&'static ProviderKind> {
    let wanted = name.trim().to_ascii_lowercase();
    let table = providers();
    if let Some(kind) = table.iter().find(|k| k.id == wanted) {
        return Ok(kind);
    }
    if let Some(kind) = table.iter().find(|k| k.aliases.contains(&wanted)) {
        return Ok(kind);
    }
    Err(unknown_kind_error(name, &wanted))
}

fn unknown_kind_error(original: &str, wanted: &str) -> Error {
    let mut scored: Vec<(usize, &str)> = providers()
        .iter()
        .flat_map(|k| std::iter::once(k.id.as_str()).chain(k.aliases.iter().map(String::as_str)))
        .map(|name| (strsim::levenshtein(wanted, name), name))
        .collect();
    scored.sort();
    let limit = (wanted.chars().count() / 3).max(2);
    let close: Vec<&str> = scored
        .iter()
        .filter(|(d, _)| *d <= limit)
        .take(3)
        .map(|(_, n)| *n)
        .collect();
    let shown = original.trim();
    if wanted.is_empty() {
        Error::config(
            "provider kind is empty; set provider.kind (run `aigw providers` for the list)",
        )
    } else if close.is_empty() {
        Error::config(format!(
            "unknown provider kind `{shown}`; run `aigw providers` for the list of kinds"
        ))
    } else {
        Error::config(format!(
            "unknown provider kind `{shown}`; did you mean {}?",
            close
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggestions_use_edit_distance() {
        let e = super::resolve_kind("cloudfare").unwrap_err();
        assert!(e.message.contains("`cloudflare`"), "{}", e.message);
    }
}
