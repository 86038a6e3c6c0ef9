//! Config target: TOML and JSON config files go through `ConfigFile`, profile selection and
//! `Client::with_env` (which does no network I/O). Selection follows its documented rules,
//! parsed profiles are already clamped, built clients stay within the bounds, and a key
//! planted as the value of `api_key` (or `authorization`) never shows up in an error
//! message, a `Debug` form or `describe()`.

use std::collections::HashMap;
use std::ops::Range;

use aigw_core::gateway::GATEWAY_FIELDS;
use aigw_core::profile::{valid_profile_id, BOUNDS, PROFILE_FIELDS};
use aigw_core::{auth, providers, Client, ConfigFile, Env, ErrorCode, Profile, SecretRef};
use serde_json::Value;

use crate::{ensure, Violation, SECRET_MARKER};

/// Clients built per input, to bound the cost of configs with many profiles.
const MAX_CLIENTS: usize = 8;

/// Field names, kinds, secret-reference forms, URL pieces and TOML/JSON syntax.
pub fn dictionary() -> Vec<Vec<u8>> {
    let mut words: Vec<String> = PROFILE_FIELDS
        .iter()
        .chain(GATEWAY_FIELDS.iter())
        .flat_map(|f| [f.to_string(), format!("{f} = "), format!("\"{f}\": ")])
        .collect();
    for kind in providers() {
        words.push(kind.id.clone());
        words.extend(kind.aliases.iter().cloned());
    }
    words.extend(
        [
            "[providers.",
            "[providers.a]\nkind = \"openai\"\n",
            "[providers.a.gateway]\n",
            "[providers.a.headers]\n",
            "active_provider = \"a\"\n",
            "\"providers\": {",
            "kind = \"cloudflare_ai_gateway\"\n",
            "{ env = \"OPENAI_API_KEY\" }",
            "{ file = \"/nonexistent/key\" }",
            "{\"env\":\"A\"}",
            "${CLOUDFLARE_API_KEY}",
            "$OPENAI_API_KEY",
            "env:X",
            "https://gateway.ai.cloudflare.com/v1/<account_id>/<gateway_name>/compat",
            "http://127.0.0.1:8080/v1",
            "http://[::1]/",
            "https://",
            "http://",
            "<account_id>",
            "<gateway_name>",
            "auto",
            "constant",
            "exponential",
            "metadata = { a = 1, b = true, c = \"x\" }",
            "Authorization",
            "x-api-key",
            "cf-aig-",
            "[[providers]]",
            "a.b.c = 1\n",
            "1979-05-27T07:32:00Z",
            "0x10",
            "1_000",
            "+inf",
            "\\u00e9",
            "\\\n",
            "#",
            SECRET_MARKER,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    words.into_iter().map(String::into_bytes).collect()
}

fn is_secret_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("api_key") || key.eq_ignore_ascii_case("authorization")
}

fn is_bare_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// The end of the string literal opened at `start` and the range of its contents. TOML strings
/// are `"…"` (with escapes), `'…'` (without) or their tripled multi-line forms, and single-line
/// ones stop at a line end; JSON strings are `"…"` with escapes.
fn lex_string(b: &[u8], start: usize, json: bool) -> (Range<usize>, usize) {
    let quote = b[start];
    let triple = !json && b[start..].starts_with(&[quote; 3]);
    let open = if triple { 3 } else { 1 };
    let escapes = quote == b'"';
    let mut i = start + open;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if triple {
            if b[i..].starts_with(&[quote; 3]) {
                return (start + open..i, i + 3);
            }
        } else if b[i] == quote {
            return (start + open..i, i + 1);
        } else if !json && b[i] == b'\n' {
            return (start + open..i, i);
        }
        i += 1;
    }
    (start + open..b.len().max(start + open), b.len())
}

/// Ranges of the string literals written as the value of a secret key (`api_key = "…"`,
/// `"authorization": "…"`), found by a small lexer of TOML (`json` false) or JSON.
fn secret_string_spans(text: &str, json: bool) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut key: Option<String> = None;
    let mut secret_value_next = false;
    let mut in_value = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' if !(json && c == b'\'') => {
                let (content, end) = lex_string(b, i, json);
                let content = content.start.min(b.len())..content.end.min(b.len());
                if secret_value_next {
                    spans.push(content);
                    key = None;
                } else if !in_value {
                    key = Some(String::from_utf8_lossy(&b[content]).into_owned());
                } else {
                    key = None;
                }
                secret_value_next = false;
                i = end;
                continue;
            }
            b'#' if !json => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' if !json => {
                key = None;
                secret_value_next = false;
                in_value = false;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'=' if !json => {
                secret_value_next = key.as_deref().is_some_and(is_secret_key);
                key = None;
                in_value = true;
            }
            b':' if json => {
                secret_value_next = key.as_deref().is_some_and(is_secret_key);
                key = None;
                in_value = true;
            }
            b'{' | b',' => {
                key = None;
                secret_value_next = false;
                in_value = false;
            }
            b'[' if json => {
                key = None;
                secret_value_next = false;
                in_value = true;
            }
            _ if !json && is_bare_key_byte(c) => {
                let start = i;
                while i < b.len() && is_bare_key_byte(b[i]) {
                    i += 1;
                }
                let word = &text[start..i];
                key = (!in_value).then(|| word.rsplit('.').next().unwrap_or(word).to_string());
                secret_value_next = false;
                continue;
            }
            _ => {
                key = None;
                secret_value_next = false;
            }
        }
        i += 1;
    }
    spans
}

/// Whether the marker occurs, and only inside string values of secret keys (lexically, in
/// either syntax): then no message may repeat it.
pub fn marker_only_in_secret_values(text: &str) -> bool {
    let occurrences: Vec<usize> = text.match_indices(SECRET_MARKER).map(|(i, _)| i).collect();
    !occurrences.is_empty()
        && [false, true].into_iter().any(|json| {
            let spans = secret_string_spans(text, json);
            occurrences.iter().all(|&at| {
                spans
                    .iter()
                    .any(|s| s.start <= at && at + SECRET_MARKER.len() <= s.end)
            })
        })
}

/// Every string of a parsed config that is fine to show (ids, URLs, models, env names, file
/// paths, non-sensitive headers, gateway options): everything but literal keys and sensitive
/// header values.
fn shown_strings(config: &ConfigFile) -> Vec<String> {
    let mut out: Vec<String> = config.active_provider.iter().cloned().collect();
    for (id, p) in &config.providers {
        out.push(id.clone());
        out.push(p.kind.clone());
        out.extend(
            [
                &p.base_url,
                &p.account_id,
                &p.gateway_name,
                &p.endpoint,
                &p.models_endpoint,
                &p.model,
                &p.api_key_env,
            ]
            .into_iter()
            .flatten()
            .cloned(),
        );
        out.extend(p.preferred_models.iter().cloned());
        for secret in [&p.api_key, &p.gateway.authorization].into_iter().flatten() {
            if !matches!(secret, SecretRef::Literal(_)) {
                out.push(secret.source());
            }
        }
        for (name, value) in p.headers.iter() {
            out.push(name.to_string());
            if !auth::is_sensitive_header(name) {
                out.push(value.to_string());
            }
        }
        let g = &p.gateway;
        out.extend(
            [&g.cache_key, &g.event_id, &g.byok_alias]
                .into_iter()
                .flatten()
                .cloned(),
        );
        if let Some(metadata) = &g.metadata {
            out.push(Value::Object(metadata.clone()).to_string());
        }
    }
    out
}

fn hides_marker(shown: &str, property: &'static str, what: &str) -> Result<(), Violation> {
    ensure(!shown.contains(SECRET_MARKER), property, || {
        format!("{what} repeats the key planted as a secret value: {shown}")
    })
}

fn bounded_field(p: &Profile, name: &str) -> Option<u64> {
    Some(match name {
        "connect_timeout_ms" => p.connect_timeout_ms,
        "request_timeout_ms" => p.request_timeout_ms,
        "stream_idle_timeout_ms" => p.stream_idle_timeout_ms,
        "retry_max_attempts" => p.retry_max_attempts,
        "retry_initial_backoff_ms" => p.retry_initial_backoff_ms,
        "retry_max_backoff_ms" => p.retry_max_backoff_ms,
        "model_catalog_cache_ttl_ms" => p.model_catalog_cache_ttl_ms,
        "model_catalog_stale_if_error_ms" => p.model_catalog_stale_if_error_ms,
        "max_response_bytes" => p.max_response_bytes,
        _ => return None,
    })
}

/// Builds a client for `profile`, checks it and asks it for its credentials and route.
fn build_client(profile: &Profile, guarded: bool) -> Result<(), Violation> {
    match Client::with_env(profile.clone(), Env::from_map(HashMap::new())) {
        Ok(client) => {
            let p = client.profile();
            for b in BOUNDS {
                let value = bounded_field(p, b.name);
                ensure(
                    value.is_some_and(|v| (b.min..=b.max).contains(&v)),
                    "client_within_bounds",
                    || format!("{} = {value:?} is outside {}..={}", b.name, b.min, b.max),
                )?;
            }
            ensure(
                p.retry_max_backoff_ms >= p.retry_initial_backoff_ms,
                "client_within_bounds",
                || {
                    format!(
                        "retry_max_backoff_ms {} < retry_initial_backoff_ms {}",
                        p.retry_max_backoff_ms, p.retry_initial_backoff_ms
                    )
                },
            )?;
            let described = client.describe();
            if guarded {
                hides_marker(
                    &format!("{client:?}"),
                    "client_debug_hides_key",
                    "Client's Debug",
                )?;
                hides_marker(&described.to_string(), "describe_hides_key", "describe()")?;
                if let Err(e) = client.credentials() {
                    hides_marker(&e.message, "error_hides_key", "the credentials error")?;
                }
            }
            // No property of their own: route resolution once panicked on a malformed host.
            std::hint::black_box((client.kind(), client.credentials().is_ok(), client.route()));
            Ok(())
        }
        Err(e) => {
            // Unknown kinds, malformed URLs and bad headers: all configuration problems.
            ensure(
                e.code == ErrorCode::Config,
                "client_errors_are_config",
                || format!("Client::with_env failed with {}: {}", e.code, e.message),
            )?;
            if guarded {
                hides_marker(&e.message, "error_hides_key", "Client::with_env's error")?;
            }
            Ok(())
        }
    }
}

fn exercise(config: &ConfigFile, text: &str) -> Result<(), Violation> {
    let guarded = text.contains(SECRET_MARKER)
        && !shown_strings(config)
            .iter()
            .any(|s| s.contains(SECRET_MARKER));
    let ids: Vec<&str> = config.providers.iter().map(|(id, _)| id.as_str()).collect();
    let bad_id = ids.iter().find(|id| !valid_profile_id(id));
    ensure(bad_id.is_none(), "profile_ids_valid", || {
        format!("profile id {bad_id:?} was accepted")
    })?;
    let selected = config.select(None);
    let expected = match &config.active_provider {
        Some(active) => ids.contains(&active.as_str()),
        None => ids.len() == 1,
    };
    ensure(selected.is_ok() == expected, "select_follows_rules", || {
        format!(
            "select(None) with active_provider {:?} and profiles {ids:?} gave {:?}",
            config.active_provider,
            selected.as_ref().map(|(id, _)| id)
        )
    })?;
    if guarded {
        hides_marker(
            &format!("{config:?}"),
            "config_debug_hides_key",
            "ConfigFile's Debug",
        )?;
        if let Err(e) = &selected {
            hides_marker(&e.message, "error_hides_key", "select's error")?;
        }
    }
    for (id, profile) in config.providers.iter().take(MAX_CLIENTS) {
        let picked = config.select(Some(id));
        ensure(
            picked.as_ref().is_ok_and(|(i, p)| i == id && p == profile),
            "select_by_id",
            || format!("select(Some({id:?})) did not return that profile"),
        )?;
        ensure(
            profile.clone().clamped() == *profile,
            "parsed_profile_is_clamped",
            || format!("profile {id}: clamped() changed a parsed profile: {profile:?}"),
        )?;
        build_client(profile, guarded)?;
    }
    Ok(())
}

/// Parses the input as TOML and as JSON (lossy UTF-8), then selects and builds clients.
pub fn check(input: &[u8]) -> Result<(), Violation> {
    let text = String::from_utf8_lossy(input);
    let guarded_lexically = marker_only_in_secret_values(&text);
    for (syntax, parsed) in [
        ("toml", ConfigFile::from_toml_str(&text)),
        ("json", ConfigFile::from_json_str(&text)),
    ] {
        match parsed {
            Ok(config) => exercise(&config, &text)?,
            Err(e) => {
                ensure(
                    e.code == ErrorCode::Config,
                    "parse_errors_are_config",
                    || format!("{syntax} parse failed with {}: {}", e.code, e.message),
                )?;
                if guarded_lexically {
                    hides_marker(
                        &e.message,
                        "error_hides_key",
                        &format!("the {syntax} parse error"),
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexer_finds_secret_values_only() {
        assert!(marker_only_in_secret_values(
            "api_key = \"sk-FUZZSECRET\"\n"
        ));
        assert!(marker_only_in_secret_values("a.api_key='x sk-FUZZSECRET'"));
        assert!(marker_only_in_secret_values(
            "gateway = { authorization = \"\"\"\nsk-FUZZSECRET\"\"\" }"
        ));
        assert!(marker_only_in_secret_values(
            "{\"p\": {\"api_key\": \"sk-FUZZSECRET\"}}"
        ));
        assert!(!marker_only_in_secret_values("model = \"sk-FUZZSECRET\""));
        assert!(!marker_only_in_secret_values(
            "api_key = { file = \"sk-FUZZSECRET\" }"
        ));
        assert!(!marker_only_in_secret_values(
            "api_key = [\"sk-FUZZSECRET\"]"
        ));
        assert!(!marker_only_in_secret_values(
            "x = \"api_key\" = \"sk-FUZZSECRET\""
        ));
        assert!(!marker_only_in_secret_values(
            "# api_key = \"sk-FUZZSECRET\""
        ));
        assert!(!marker_only_in_secret_values(
            "api_key = \"a\" # sk-FUZZSECRET"
        ));
        assert!(!marker_only_in_secret_values(
            "m = \"\"\"\napi_key = \"sk-FUZZSECRET\"\n\"\"\""
        ));
        assert!(!marker_only_in_secret_values(
            "{\"model\": \"sk-FUZZSECRET\"}"
        ));
    }
}
