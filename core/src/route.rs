//! Route resolution (docs/contract.md §4): base URL from the profile or the kind's template, placeholders
//! filled or reported, trailing-slash-safe joins, endpoint overrides, the https rule, and the
//! Cloudflare account id / gateway name an operator needs to see.

use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::registry::ProviderKind;

/// A resolved (or knowingly unresolved) route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Base URL after placeholder filling.
    pub base_url: String,
    /// Chat URL.
    pub request_endpoint: String,
    /// Models URL, when the kind has one.
    pub models_endpoint: Option<String>,
    /// Embeddings URL: the chat URL with `embeddings` for `chat/completions`, for kinds of the
    /// OpenAI protocol (`None` when the chat URL does not end that way).
    pub embeddings_endpoint: Option<String>,
    /// Cloudflare account id parsed from the URL (gateway host or REST route).
    pub account_id: Option<String>,
    /// Cloudflare gateway name: from the gateway URL, or on the REST route the
    /// `cf-aig-gateway-id` header (`default` without it, as Cloudflare does).
    pub gateway_name: Option<String>,
    /// Set when placeholders remain: every network call fails with this `CONFIG` message.
    pub hint: Option<String>,
}

impl Route {
    /// `Err(CONFIG hint)` when the route still has placeholders; checked before any I/O.
    pub fn ensure_resolved(&self) -> Result<()> {
        match &self.hint {
            Some(hint) => Err(Error::config(hint.clone())),
            None => Ok(()),
        }
    }
}

/// Joins a base URL and a path with exactly one slash between them. A query on the base
/// (`…/compat?api-version=1`) stays at the end of the result, after the joined path.
pub fn join_url(base: &str, path: &str) -> String {
    let (base, query) = match base.find('?') {
        Some(at) => base.split_at(at),
        None => (base, ""),
    };
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        format!("{base}{query}")
    } else {
        format!("{base}/{path}{query}")
    }
}

/// The `<name>` placeholders in a URL, in order.
pub fn placeholders(url: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find('<') {
        let after = &rest[start..];
        match after.find('>') {
            Some(end) if end > 1 && !after[1..end].contains(['<', ' ', '/']) => {
                found.push(&after[..=end]);
                rest = &after[end + 1..];
            }
            _ => rest = &after[1..],
        }
    }
    found
}

fn fill(template: &str, profile: &Profile) -> String {
    let mut url = template.trim().to_string();
    if let Some(account) = &profile.account_id {
        url = url.replace("<account_id>", account.trim());
    }
    if let Some(gateway) = &profile.gateway_name {
        url = url.replace("<gateway_name>", gateway.trim());
    }
    if let Some(region) = &profile.region {
        url = url.replace("<region>", region.trim());
    }
    url
}

/// The exact operator hint for a route whose placeholders were not replaced.
pub fn unresolved_hint(kind: &ProviderKind) -> String {
    if placeholders(&kind.default_base_url) == ["<region>"] {
        return format!(
            "{} needs an AWS region: set provider.region (e.g. \"us-east-1\") or write it into provider.base_url; current template: {}",
            kind.id, kind.default_base_url
        );
    }
    let names = placeholders(&kind.default_base_url);
    let names = match names.as_slice() {
        [] => "the placeholders".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    let what = if kind.id == "cloudflare_ai_gateway" {
        "Cloudflare AI Gateway path".to_string()
    } else {
        format!("{} endpoint", kind.display_name)
    };
    format!(
        "{} requires tenant-scoped base_url configuration: replace {names} in provider.base_url with your real {what}; current template: {}",
        kind.id, kind.default_base_url
    )
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Splits `scheme://host[:port]/…` into scheme, host (without port) and the port text, if any.
fn scheme_host_port(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    let port = authority[host.len()..].strip_prefix(':');
    Some((scheme, host, port))
}

fn check_url(url: &str, field: &str, kind: &ProviderKind, allow_http: bool) -> Result<()> {
    if let Err(e) = url.parse::<ureq::http::Uri>() {
        return Err(Error::config(format!(
            "{field} `{}` is not a valid URL ({e})",
            url.escape_default()
        )));
    }
    let Some((scheme, host, port)) = scheme_host_port(url) else {
        return Err(Error::config(format!(
            "{field} `{url}` is not an absolute http(s) URL"
        )));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Error::config(format!(
            "{field} `{url}` must use http or https"
        )));
    }
    if host.is_empty() {
        return Err(Error::config(format!("{field} `{url}` has no host")));
    }
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |n| n == 0)) {
        return Err(Error::config(format!(
            "{field} `{url}` has an invalid port"
        )));
    }
    let kind_is_https = kind.default_base_url.starts_with("https://");
    if scheme == "http" && kind_is_https && !allow_http && !is_loopback_host(host) {
        return Err(Error::config(format!(
            "{field} `{url}` uses plain http to a non-loopback host for {}; use https, or set provider.allow_http = true",
            kind.id
        )));
    }
    Ok(())
}

/// Whether the URL's authority holds `user[:password]@`.
fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .is_some_and(|authority| authority.contains('@'))
}

/// Cloudflare AI Gateway's host.
pub const GATEWAY_HOST: &str = "gateway.ai.cloudflare.com";
/// Cloudflare's REST API host (the `…/accounts/{account_id}/ai/v1` route).
pub const REST_HOST: &str = "api.cloudflare.com";
/// The request header naming the gateway on the REST route.
pub const GATEWAY_ID_HEADER: &str = "cf-aig-gateway-id";

/// The path segments of a URL (after the authority, before any query).
fn path_segments(url: &str) -> Option<std::str::Split<'_, char>> {
    let (_, rest) = url.split_once("://")?;
    let path = rest.split_once('/').map(|(_, p)| p)?;
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Some(path.split('/'))
}

/// `(account_id, gateway_name)` from a Cloudflare URL path `/v1/{account}/{gateway}/…`.
pub fn cloudflare_ids(url: &str) -> Option<(String, String)> {
    let mut segments = path_segments(url)?;
    if segments.next()? != "v1" {
        return None;
    }
    let account = segments.next().filter(|s| !s.is_empty())?;
    let gateway = segments.next().filter(|s| !s.is_empty())?;
    if account.contains('<') || gateway.contains('<') {
        return None;
    }
    Some((account.to_string(), gateway.to_string()))
}

/// The account id of Cloudflare's REST route `/client/v4/accounts/{account}/ai/v1…`.
pub fn rest_account_id(url: &str) -> Option<String> {
    let mut segments = path_segments(url)?;
    let head: Vec<&str> = segments.by_ref().take(6).collect();
    match head.as_slice() {
        ["client", "v4", "accounts", account, "ai", "v1"]
            if !account.is_empty() && !account.contains('<') =>
        {
            Some(account.to_string())
        }
        _ => None,
    }
}

/// Whether `url`'s host is `host` (case-insensitive).
fn host_is(url: &str, host: &str) -> bool {
    scheme_host_port(url).is_some_and(|(_, h, _)| h.eq_ignore_ascii_case(host))
}

/// Account id and gateway name of a Cloudflare route: the gateway host's `/v1/{account}/{gateway}/…`
/// (any host for the `cloudflare_ai_gateway` kind, so a mock or proxy in front works too), or the
/// REST route `api.cloudflare.com/client/v4/accounts/{account}/ai/v1` whose gateway is named by the
/// `cf-aig-gateway-id` header.
fn cloudflare_route_ids(
    url: &str,
    kind: &ProviderKind,
    profile: &Profile,
) -> (Option<String>, Option<String>) {
    if let Some(account) = rest_account_id(url) {
        if kind.id == "cloudflare_ai_gateway" || host_is(url, REST_HOST) {
            let gateway = profile
                .headers
                .get(GATEWAY_ID_HEADER)
                .map_or("default", str::trim)
                .to_string();
            return (Some(account), Some(gateway));
        }
    }
    if kind.id == "cloudflare_ai_gateway" || host_is(url, GATEWAY_HOST) {
        if let Some((a, g)) = cloudflare_ids(url) {
            return (Some(a), Some(g));
        }
    }
    (None, None)
}

/// The embeddings URL: the chat URL with `embeddings` for `chat/completions`, for kinds of the
/// OpenAI protocol; `None` when the chat URL does not end that way.
fn embeddings_endpoint(profile: &Profile, kind: &ProviderKind, base_url: &str) -> Option<String> {
    match (&profile.endpoint, kind.protocol_family) {
        (_, family) if family != crate::registry::ProtocolFamily::OpenaiChatCompletions => None,
        (Some(url), _) => url
            .trim()
            .strip_suffix("/chat/completions")
            .map(|prefix| format!("{prefix}/embeddings")),
        (None, _) => kind
            .chat_path
            .strip_suffix("chat/completions")
            .map(|prefix| join_url(base_url, &format!("{prefix}embeddings"))),
    }
}

/// Resolves the route of `profile` for `kind`. Placeholders left in place do not fail here
/// (the route carries a hint); malformed URLs and the https rule do.
pub fn resolve_route(profile: &Profile, kind: &ProviderKind) -> Result<Route> {
    let template = kind.default_base_url.as_str();
    let base_url = fill(profile.base_url.as_deref().unwrap_or(template), profile);
    let request_endpoint = match &profile.endpoint {
        Some(url) => url.trim().to_string(),
        None => join_url(&base_url, &kind.chat_path),
    };
    let models_endpoint = match (
        &profile.models_endpoint,
        &kind.models_url,
        &kind.models_path,
    ) {
        (Some(url), _, _) => Some(url.trim().to_string()),
        (None, Some(url), _) => Some(fill(url, profile)),
        (None, None, Some(path)) => Some(join_url(&base_url, path)),
        (None, None, None) => None,
    };
    for (field, url) in [
        ("provider.base_url", Some(base_url.as_str())),
        ("provider.endpoint", Some(request_endpoint.as_str())),
        ("provider.models_endpoint", models_endpoint.as_deref()),
    ] {
        if url.is_some_and(|u| u.contains('#')) {
            return Err(Error::config(format!(
                "{field} has a `#fragment`, which is never sent to a server; remove it"
            )));
        }
        if url.is_some_and(has_userinfo) {
            // Not echoed: the URL holds a password.
            return Err(Error::config(format!(
                "{field} has `user:password@` in it; put credentials in provider.api_key or provider.headers"
            )));
        }
    }
    let embeddings_endpoint = embeddings_endpoint(profile, kind, &base_url);
    let uses_template = profile.endpoint.is_none() && base_url == template;
    let unresolved = (kind.requires_tenant_base_url && uses_template)
        || !placeholders(&request_endpoint).is_empty()
        || models_endpoint
            .as_deref()
            .is_some_and(|m| !placeholders(m).is_empty());
    let hint = unresolved.then(|| unresolved_hint(kind));
    if hint.is_none() {
        check_url(
            &request_endpoint,
            "provider.endpoint",
            kind,
            profile.allow_http,
        )?;
        if let Some(models) = &models_endpoint {
            check_url(models, "provider.models_endpoint", kind, profile.allow_http)?;
        }
    }
    let (account_id, gateway_name) = cloudflare_route_ids(&request_endpoint, kind, profile);
    Ok(Route {
        base_url,
        request_endpoint,
        models_endpoint,
        embeddings_endpoint,
        account_id,
        gateway_name,
        hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins() {
        assert_eq!(
            join_url("https://a/compat/", "/chat/completions"),
            "https://a/compat/chat/completions"
        );
        assert_eq!(
            join_url("https://a/compat", "chat"),
            "https://a/compat/chat"
        );
        assert_eq!(
            join_url("https://a/compat/?api-version=1", "/chat/completions"),
            "https://a/compat/chat/completions?api-version=1"
        );
    }

    #[test]
    fn finds_placeholders() {
        assert_eq!(
            placeholders("https://x/v1/<account_id>/<gateway_name>/y"),
            ["<account_id>", "<gateway_name>"]
        );
        assert!(placeholders("https://x/v1/a<b").is_empty());
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert_eq!(
            scheme_host_port("http://[::1]:80/x"),
            Some(("http", "[::1]", Some("80")))
        );
        assert_eq!(scheme_host_port("http://h/x"), Some(("http", "h", None)));
        assert_eq!(
            scheme_host_port("http://h:/x"),
            Some(("http", "h", Some("")))
        );
    }
}
