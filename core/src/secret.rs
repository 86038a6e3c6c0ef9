//! Secrets and headers as configured: references to keys (literal, env, file), the redacting
//! wrappers that keep key text out of every Debug/Display/serialized form, the environment they
//! are read from, and RFC 9110 header validation. No other module of the crate is needed here
//! but errors.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};

/// A secret string. It has no `Display`, and its `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret text, for building the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret comes from: `"sk-…"`, `"${X}"`, `"$X"`, `"env:X"`, `{ env = "X" }`,
/// `{ file = "path" }`.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value itself.
    Literal(Secret),
    /// An environment variable.
    Env(String),
    /// A file whose trimmed contents are the value.
    File(PathBuf),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Literal(_) => f.write_str("Literal(***)"),
            SecretRef::Env(name) => write!(f, "Env({name:?})"),
            SecretRef::File(path) => write!(f, "File({path:?})"),
        }
    }
}

/// Whether `s` can be an environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SecretRef {
    /// Parses the string forms (literal, `${X}`, `$X`, `env:X`).
    pub fn parse(text: &str) -> SecretRef {
        let t = text.trim();
        if let Some(name) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            if is_env_name(name) {
                return SecretRef::Env(name.to_string());
            }
        }
        if let Some(name) = t.strip_prefix('$') {
            if is_env_name(name) {
                return SecretRef::Env(name.to_string());
            }
        }
        if let Some(name) = t.strip_prefix("env:") {
            if is_env_name(name.trim()) {
                return SecretRef::Env(name.trim().to_string());
            }
        }
        SecretRef::Literal(Secret::new(text))
    }

    /// Parses a string or a `{ env = … }` / `{ file = … }` table; `path` names it in errors.
    pub fn from_value(value: &Value, path: &str) -> Result<SecretRef> {
        match value {
            Value::String(s) => Ok(SecretRef::parse(s)),
            Value::Object(map) if map.len() == 1 => {
                match (map.get("env"), map.get("file")) {
                    (Some(Value::String(name)), None) if is_env_name(name) => Ok(SecretRef::Env(name.clone())),
                    (Some(_), None) => Err(Error::config(format!("{path}.env must be an environment variable name"))),
                    (None, Some(Value::String(file))) if !file.is_empty() => Ok(SecretRef::File(PathBuf::from(file))),
                    (None, Some(_)) => Err(Error::config(format!("{path}.file must be a file path"))),
                    _ => Err(Error::config(format!(
                        "unknown field in {path}: a secret reference is a string, {{ env = \"NAME\" }} or {{ file = \"path\" }}"
                    ))),
                }
            }
            _ => Err(Error::config(format!(
                "{path} must be a string, {{ env = \"NAME\" }} or {{ file = \"path\" }}"
            ))),
        }
    }

    /// Where the value comes from, safe to show (`inline`, `env:X`, `file:path`).
    pub fn source(&self) -> String {
        match self {
            SecretRef::Literal(_) => "inline".to_string(),
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::File(path) => format!("file:{}", path.display()),
        }
    }

    /// The value, or `None` when the env var is unset/empty or the file is missing/empty.
    pub fn resolve(&self, env: &Env) -> Option<Secret> {
        let value = match self {
            SecretRef::Literal(s) => Some(s.expose().to_string()),
            SecretRef::Env(name) => env.var(name),
            SecretRef::File(path) => std::fs::read_to_string(path).ok(),
        }?;
        let trimmed = value.trim();
        (!trimmed.is_empty()).then(|| Secret::new(trimmed))
    }
}

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Reads environment variables; tests substitute a fixed map.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env(Arc::new(|name| std::env::var(name).ok()))
    }

    /// A fixed set of variables (nothing else is visible).
    pub fn from_map(vars: HashMap<String, String>) -> Env {
        Env(Arc::new(move |name| vars.get(name).cloned()))
    }

    /// A variable's value, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env")
    }
}

/// Header names whose values are secrets and are never shown.
pub fn is_sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("key")
        || [
            "auth",
            "api-key",
            "api_key",
            "apikey",
            "token",
            "secret",
            "cookie",
            "password",
            "signature",
        ]
        .iter()
        .any(|s| n.contains(s))
}

/// The secrets in a proxy URL's `user:password@`: the password (as written and decoded), the
/// pair, and the pair in base64 as a `Proxy-Authorization: Basic` header carries it.
pub fn proxy_secrets(url: &str) -> Vec<String> {
    use base64::Engine as _;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let decoded = percent_decode(userinfo);
    let mut secrets = vec![userinfo.to_string(), decoded.clone()];
    secrets.push(base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes()));
    if let Some((_, password)) = userinfo.split_once(':') {
        secrets.push(password.to_string());
        secrets.push(percent_decode(password));
    }
    secrets
}

/// `%XX` escapes decoded (bytes that do not form UTF-8 are replaced); other text kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Validated request headers (no CR/LF/NUL, token names). `Debug` redacts sensitive values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Validates `pairs`; `path` names them in errors.
    pub fn from_pairs(pairs: Vec<(String, String)>, path: &str) -> Result<Headers> {
        for (name, value) in &pairs {
            check_header(name, value, path)?;
        }
        Ok(Headers(pairs))
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Header names only, for descriptors.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Sets `name`, replacing an existing header of that name (case-insensitive).
    pub fn set(&mut self, name: &str, value: String) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.0.push((name.to_string(), value));
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| {
                (
                    n.as_str(),
                    if is_sensitive_header(n) {
                        "***"
                    } else {
                        v.as_str()
                    },
                )
            }))
            .finish()
    }
}

/// Validates a header by RFC 9110: the name a token, the value visible ASCII, spaces and tabs
/// (obs-text is refused: HTTP clients and servers treat it inconsistently). The error names the
/// field and the offending character's position, never the value (it may be a key).
pub fn check_header(name: &str, value: &str, path: &str) -> Result<()> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(Error::config(format!(
            "{path}: header name `{}` is not a valid HTTP header name",
            name.escape_default()
        )));
    }
    match bad_header_char(value) {
        Some(what) => Err(Error::config(format!(
            "{path}.{name}: header value contains {what}; HTTP header values are visible ASCII, spaces and tabs"
        ))),
        None => Ok(()),
    }
}

/// What is wrong with a header value, if anything: the first character RFC 9110 (as aigw
/// applies it) does not allow, described without showing the value.
pub(crate) fn bad_header_char(value: &str) -> Option<String> {
    let (at, c) = value
        .char_indices()
        .find(|(_, c)| !(*c == '\t' || (' '..='~').contains(c)))?;
    Some(match c {
        '\r' | '\n' | '\0' => format!("CR, LF or NUL at byte {at} (header injection is refused)"),
        c if c.is_ascii_control() => {
            format!("the control character U+{:04X} at byte {at}", c as u32)
        }
        c => format!("the non-ASCII character U+{:04X} at byte {at}", c as u32),
    })
}
