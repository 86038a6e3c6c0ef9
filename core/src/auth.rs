//! Credentials (docs/contract.md §4): the key pool of a profile, resolved with its precedence
//! (`api_key`, `api_key_env`, the kind's variables, a user `Authorization` header), and the
//! header each key travels in.

use crate::error::{Error, ErrorCode, Result};
use crate::profile::Profile;
use crate::registry::{AuthScheme, ProviderKind};
use crate::secret::bad_header_char;
pub use crate::secret::{
    check_header, is_env_name, is_sensitive_header, proxy_secrets, Env, Headers, Secret, SecretRef,
};

/// Refuses a key that cannot travel in a header, naming where it came from (never the key).
pub fn check_keys(credentials: &Credentials) -> Result<()> {
    for (i, key) in credentials.keys.iter().enumerate() {
        if let Some(what) = bad_header_char(key.expose()) {
            let which = if credentials.keys.len() > 1 {
                format!(" (key {} of the pool)", i + 1)
            } else {
                String::new()
            };
            return Err(Error::config(format!(
                "the API key from {}{which} contains {what}; keys must be visible ASCII: check for a stray character copied with it",
                credentials.source.label()
            )));
        }
    }
    Ok(())
}

/// Where the credentials came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `api_key` in the profile (`inline`, `env:X` or `file:path`).
    ApiKey(String),
    /// An env var found by the fallback chain.
    Env(String),
    /// A user-supplied `Authorization` (or `x-api-key`) header.
    Header(String),
    /// None; the kind's auth is optional.
    None,
}

impl CredentialSource {
    /// A label safe to show to operators, e.g. `env:CLOUDFLARE_API_KEY`.
    pub fn label(&self) -> String {
        match self {
            CredentialSource::ApiKey(src) => format!("provider.api_key ({src})"),
            CredentialSource::Env(name) => format!("env:{name}"),
            CredentialSource::Header(name) => format!("headers.{name}"),
            CredentialSource::None => "none".to_string(),
        }
    }
}

/// Resolved credentials: a source label and a key pool (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Where they came from.
    pub source: CredentialSource,
    /// The key pool, deduplicated, in configured order.
    pub keys: Vec<Secret>,
    scheme: AuthScheme,
}

impl Credentials {
    /// No credentials (a kind whose auth, or whose model probe, needs none).
    pub fn none(scheme: AuthScheme) -> Credentials {
        Credentials {
            source: CredentialSource::None,
            keys: Vec::new(),
            scheme,
        }
    }

    /// The header carrying key `index` of the pool, or `None` when no key is used
    /// (header credentials, optional auth).
    pub fn auth_header(&self, index: usize) -> Option<(&'static str, String)> {
        let key = self.keys.get(index)?;
        Some(match self.scheme {
            AuthScheme::Bearer => ("Authorization", format!("Bearer {}", key.expose())),
            AuthScheme::XApiKey => ("x-api-key", key.expose().to_string()),
        })
    }

    /// Number of keys in the pool.
    pub fn pool_size(&self) -> usize {
        self.keys.len()
    }
}

/// Splits a key value on `,` `;` and newlines into a deduplicated pool.
pub fn split_key_pool(value: &str) -> Vec<Secret> {
    let mut pool: Vec<Secret> = Vec::new();
    for part in value.split([',', ';', '\n', '\r']) {
        let key = part.trim();
        if !key.is_empty() && !pool.iter().any(|k| k.expose() == key) {
            pool.push(Secret::new(key));
        }
    }
    pool
}

/// The env vars tried for a key, in precedence order: `api_key_env`, the kind's default env,
/// then its aliases.
pub fn env_chain<'a>(profile: &'a Profile, kind: &'a ProviderKind) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for name in profile
        .api_key_env
        .iter()
        .map(String::as_str)
        .chain(kind.key_env_chain())
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Resolves credentials with the precedence of docs/contract.md §4. Fails with `MISSING_CREDENTIALS`
/// (naming what was tried) when auth is required and nothing resolved.
pub fn resolve_credentials(
    profile: &Profile,
    kind: &ProviderKind,
    env: &Env,
) -> Result<Credentials> {
    let scheme = kind.auth_scheme;
    if let Some(secret_ref) = &profile.api_key {
        let value = secret_ref.resolve(env).ok_or_else(|| {
            let what = match secret_ref {
                SecretRef::Env(name) => format!("environment variable {name} is unset or empty"),
                SecretRef::File(path) => format!("file {} is missing, unreadable or empty", path.display()),
                SecretRef::Literal(_) => "the inline value is empty".to_string(),
            };
            Error::new(
                ErrorCode::MissingCredentials,
                format!("provider.api_key cannot be resolved: {what}; fix it or remove provider.api_key to use the environment"),
            )
        })?;
        return Ok(Credentials {
            source: CredentialSource::ApiKey(secret_ref.source()),
            keys: split_key_pool(value.expose()),
            scheme,
        });
    }
    let chain = env_chain(profile, kind);
    for name in &chain {
        if let Some(value) = env.var(name) {
            return Ok(Credentials {
                source: CredentialSource::Env(name.to_string()),
                keys: split_key_pool(&value),
                scheme,
            });
        }
    }
    // A user-set `Authorization` counts for every kind, `x-api-key` for x_api_key kinds too.
    let counts = |name: &str| {
        name.eq_ignore_ascii_case("authorization")
            || (scheme == AuthScheme::XApiKey && name.eq_ignore_ascii_case("x-api-key"))
    };
    if let Some((name, _)) = profile.headers.iter().find(|(n, _)| counts(n)) {
        return Ok(Credentials {
            source: CredentialSource::Header(name.to_string()),
            keys: Vec::new(),
            scheme,
        });
    }
    if kind.auth_optional {
        return Ok(Credentials {
            source: CredentialSource::None,
            keys: Vec::new(),
            scheme,
        });
    }
    Err(Error::new(
        ErrorCode::MissingCredentials,
        missing_credentials_message(&chain),
    ))
}

/// `provider credentials are missing; set A or B, or configure provider.api_key`.
pub fn missing_credentials_message(chain: &[&str]) -> String {
    let set = match chain {
        [] => String::new(),
        [one] => format!("set {one}, or "),
        [rest @ .., last] => format!("set {} or {last}, or ", rest.join(", ")),
    };
    format!("provider credentials are missing; {set}configure provider.api_key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_ref_forms() {
        assert_eq!(SecretRef::parse("${A_B}"), SecretRef::Env("A_B".into()));
        assert_eq!(SecretRef::parse("$A"), SecretRef::Env("A".into()));
        assert_eq!(SecretRef::parse("env:A1"), SecretRef::Env("A1".into()));
        assert!(matches!(SecretRef::parse("sk-123"), SecretRef::Literal(_)));
        assert!(matches!(
            SecretRef::parse("$not-a-name"),
            SecretRef::Literal(_)
        ));
    }

    #[test]
    fn sensitive_header_names() {
        for name in [
            "Authorization",
            "X-Auth-Key",
            "Ocp-Apim-Subscription-Key",
            "cf-aig-authorization",
            "X-Api-Token",
        ] {
            assert!(is_sensitive_header(name), "{name}");
        }
        for name in ["Content-Type", "x-mock-fault", "cf-aig-metadata"] {
            assert!(!is_sensitive_header(name), "{name}");
        }
    }

    #[test]
    fn pool_split_dedup() {
        let pool = split_key_pool("a, b;a\n c");
        let keys: Vec<&str> = pool.iter().map(Secret::expose).collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }

    #[test]
    fn missing_message_names_all() {
        assert_eq!(
            missing_credentials_message(&["CLOUDFLARE_API_KEY", "CLOUDFLARE_AI_GATEWAY_API_KEY"]),
            "provider credentials are missing; set CLOUDFLARE_API_KEY or CLOUDFLARE_AI_GATEWAY_API_KEY, or configure provider.api_key"
        );
    }
}
