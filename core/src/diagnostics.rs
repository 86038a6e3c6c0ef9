//! Operator surfaces (docs/contract.md §9): `describe()` (what the client will do, no network) and
//! `doctor()` (config, credentials, route and a model probe, each pass/warn/fail).

use serde_json::{json, Value};

use crate::auth::CredentialSource;
use crate::catalog::model_id;
use crate::catalog::LIST_MODELS_RECOVERY;
use crate::client::Client;
use crate::error::ErrorCode;

impl Client {
    /// The operator descriptor (docs/contract.md §9); no network.
    pub fn describe(&self) -> Value {
        describe(self)
    }

    /// The operator checks (docs/contract.md §9); probes the models endpoint.
    pub fn doctor(&self) -> Value {
        doctor(self)
    }
}

/// The descriptor document.
/// One JSON document, written out whole so its shape reads as it prints.
pub fn describe(client: &Client) -> Value {
    let kind = client.kind();
    let route = client.route();
    let profile = client.profile();
    let template_route = crate::route::join_url(&kind.default_base_url, &kind.chat_path);
    let template_models = kind.models_url.clone().or_else(|| {
        kind.models_path
            .as_ref()
            .map(|p| crate::route::join_url(&kind.default_base_url, p))
    });
    let credentials = match client.credentials() {
        Ok(c) => json!({
            "status": "resolved",
            "source": c.source.label(),
            "key_pool_size": c.pool_size(),
        }),
        Err(e) => json!({ "status": "missing", "source": null, "message": e.message }),
    };
    let gateway_json = Value::Object(profile.gateway.describe());
    let gateway_headers = sent_gateway_headers(client);
    let mut transport: serde_json::Map<String, Value> = crate::profile::BOUNDS
        .iter()
        .zip(profile.numeric())
        .map(|(b, v)| (b.name.to_string(), Value::from(v)))
        .collect();
    transport.insert("allow_http".to_string(), Value::Bool(profile.allow_http));
    json!({
        "kind": kind.id,
        "display_name": kind.display_name,
        "at_a_glance": {
            "built_in_kind": kind.id,
            "provider_group": kind.group,
            "protocol_family": kind.protocol_family.as_str(),
            "feature_family": kind.feature_family,
            "auth_scheme": kind.auth_scheme.as_str(),
            "credential_envs": kind.credential_envs,
            "aliases": kind.aliases,
            "default_base_url": kind.default_base_url,
            "request_endpoint": template_route,
            "models_endpoint": template_models,
        },
        "auth_and_routing": {
            "auth_optional": kind.auth_optional,
            "model_probe_auth_optional": kind.model_probe_auth_optional,
            "default_api_key_env": kind.default_api_key_env,
            "oauth_envs": kind.oauth_envs,
            "primary_request_route": template_route,
            "primary_model_catalog_route": template_models,
        },
        "route": {
            "resolved": route.hint.is_none(),
            "base_url": route.base_url,
            "request_endpoint": route.request_endpoint,
            "models_endpoint": route.models_endpoint,
            "embeddings_endpoint": route.embeddings_endpoint,
            "account_id": route.account_id,
            "gateway_name": route.gateway_name,
            "hint": route.hint,
        },
        "credentials": credentials,
        "model": {
            "strategy": if profile.model.is_some() { "explicit_model" } else { "auto_discovery" },
            "model": profile.model,
            "preferred_models": profile.preferred_models,
            "embedding_model": profile.embedding_model,
        },
        "prices": profile.prices.to_json(),
        "headers": profile.headers.names(),
        "gateway": gateway_json,
        "gateway_headers": gateway_headers,
        "transport": transport,
        "runtime": crate::pool::stats(),
        "version": crate::VERSION,
    })
}

/// The gateway headers every call sends (the token shown by its source, never its value),
/// with the trace ids a profile-level `traceparent` adds on a Cloudflare route.
fn sent_gateway_headers(client: &Client) -> Value {
    let profile = client.profile();
    let gateway = &profile.gateway;
    let mut sent: Vec<(String, String)> = gateway
        .plain_headers()
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    if client.route().account_id.is_some() {
        let mut with_user: Vec<(String, String)> = profile
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        with_user.extend(sent.iter().cloned());
        crate::gateway::fill_otel_from_traceparent(&mut with_user);
        for otel in [
            crate::gateway::OTEL_TRACE_ID,
            crate::gateway::OTEL_PARENT_SPAN_ID,
        ] {
            if let Some((n, v)) = with_user.iter().find(|(n, _)| n == otel) {
                sent.retain(|(m, _)| m != n);
                sent.push((n.clone(), v.clone()));
            }
        }
    }
    let mut gateway_headers: serde_json::Map<String, Value> = sent
        .into_iter()
        .map(|(n, v)| (n, Value::String(v)))
        .collect();
    if let Some(auth) = &gateway.authorization {
        gateway_headers.insert(
            "cf-aig-authorization".to_string(),
            Value::String(format!("Bearer <{}>", auth.source())),
        );
    }
    Value::Object(gateway_headers)
}

fn check(name: &str, status: &str, detail: impl Into<String>) -> Value {
    json!({ "name": name, "status": status, "detail": detail.into() })
}

/// Cloudflare account ids are 32 hex characters.
pub fn valid_account_id(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// Cloudflare gateway names: `[a-z0-9_-]{1,64}`.
pub fn valid_gateway_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Route mistakes doctor can see without the network, each with what to do.
fn route_lints(client: &Client) -> Vec<String> {
    let route = client.route();
    let profile = client.profile();
    let mut lints = Vec::new();
    let path_of = |url: &str| {
        url.split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_string()))
            .unwrap_or_default()
    };
    let endpoint_path = path_of(&route.request_endpoint);
    if endpoint_path.contains("/v1/v1/") || endpoint_path.ends_with("/v1/v1") {
        lints.push("the path has `/v1/v1`: the base URL already ends in /v1 and the path adds another; remove one".to_string());
    }
    if let Some(base) = &profile.base_url {
        let base = base.split('?').next().unwrap_or(base).trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            lints.push(format!(
                "provider.base_url ends in /chat/completions and aigw appends {} itself (request endpoint {}); drop it from base_url, or set provider.endpoint to the full URL",
                client.kind().chat_path, route.request_endpoint
            ));
        }
    }
    lints
}

/// Advice for a 404 from the probe on Cloudflare's seed template path (`…/openai/compat`).
fn not_found_advice(client: &Client) -> Option<String> {
    let route = client.route();
    let (account, gateway) = (route.account_id.as_ref()?, route.gateway_name.as_ref()?);
    let base = route.base_url.split('?').next()?.trim_end_matches('/');
    if !base.ends_with("/openai/compat") {
        return None;
    }
    let root = base.strip_suffix("/openai/compat")?;
    Some(format!(
        "the route uses the seed's …/openai/compat template, which Cloudflare does not document: Cloudflare documents {root}/compat (the unified endpoint, model ids as provider/model, e.g. openai/gpt-4o-mini) and {root}/openai (the OpenAI passthrough, OpenAI model ids); if chat answers 404 too, set provider.base_url to one of them (account {account}, gateway {gateway})"
    ))
}

/// Up to `n` catalog ids closest to `wanted` (normalised Levenshtein, case-insensitive;
/// ties keep catalog order).
fn closest<'a>(wanted: &str, ids: &[&'a str], n: usize) -> Vec<&'a str> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, usize, &str)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let lower = id.to_ascii_lowercase();
            // Ids that only differ by a `provider/` prefix are the closest of all.
            let tail = lower.rsplit('/').next().unwrap_or(&lower);
            let score = strsim::normalized_levenshtein(&wanted, &lower)
                .max(strsim::normalized_levenshtein(&wanted, tail));
            (score, i, *id)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(n).map(|(_, _, id)| id).collect()
}

/// The doctor report: `{ "status": pass|warn|fail, "checks": [...] }`.
pub fn doctor(client: &Client) -> Value {
    let kind = client.kind();
    let profile = client.profile();
    let config = check(
        "config",
        "pass",
        format!(
            "kind {} ({}), model {}",
            kind.id,
            kind.protocol_family.as_str(),
            profile.model.as_deref().unwrap_or("auto")
        ),
    );
    let credentials = credentials_check(client);
    let route = route_check(client);
    let probe = if route["status"] == "fail" {
        check("model_probe", "warn", "skipped: the route is unresolved")
    } else if credentials["status"] == "fail" && !kind.model_probe_auth_optional {
        check("model_probe", "warn", "skipped: credentials are missing")
    } else if client.route().models_endpoint.is_none() {
        check(
            "model_probe",
            "warn",
            format!("skipped: {} has no models endpoint", kind.id),
        )
    } else {
        probe_check(client)
    };
    let checks = vec![config, credentials, route, probe];
    let worst = if checks.iter().any(|c| c["status"] == "fail") {
        "fail"
    } else if checks.iter().any(|c| c["status"] == "warn") {
        "warn"
    } else {
        "pass"
    };
    json!({ "status": worst, "ok": worst != "fail", "kind": kind.id, "checks": checks })
}

/// Where the credentials come from, or why there are none.
fn credentials_check(client: &Client) -> Value {
    match client.credentials() {
        Ok(c) if c.source == CredentialSource::None => check(
            "credentials",
            "pass",
            "none configured; this kind's auth is optional",
        ),
        Ok(c) => check(
            "credentials",
            "pass",
            format!(
                "from {} ({} key(s) in the pool)",
                c.source.label(),
                c.pool_size()
            ),
        ),
        Err(e) => check("credentials", "fail", e.message.clone()),
    }
}

/// The resolved route, the Cloudflare ids in it, and the lints of [`route_lints`].
fn route_check(client: &Client) -> Value {
    let route = client.route();
    if let Some(hint) = &route.hint {
        return check("route", "fail", hint.clone());
    }
    let mut detail = format!("request endpoint {}", route.request_endpoint);
    if let Some(m) = &route.models_endpoint {
        detail.push_str(&format!("; models endpoint {m}"));
    }
    let mut warnings = cloudflare_ids_detail(client, &mut detail);
    warnings.extend(route_lints(client));
    let status = if warnings.is_empty() { "pass" } else { "warn" };
    for warning in warnings {
        detail.push_str("; ");
        detail.push_str(&warning);
    }
    check("route", status, detail)
}

/// Adds the account id and gateway name of a Cloudflare route to `detail`; returns what looks
/// wrong with them.
fn cloudflare_ids_detail(client: &Client, detail: &mut String) -> Vec<String> {
    let route = client.route();
    if client.kind().id != "cloudflare_ai_gateway" && route.account_id.is_none() {
        return Vec::new();
    }
    let (Some(a), Some(g)) = (&route.account_id, &route.gateway_name) else {
        return vec!["the URL does not have the /v1/{account_id}/{gateway_name}/ shape of Cloudflare AI Gateway".to_string()];
    };
    detail.push_str(&format!("; account_id {a}; gateway_name {g}"));
    if crate::route::rest_account_id(&route.request_endpoint).is_some()
        && client
            .profile()
            .headers
            .get(crate::route::GATEWAY_ID_HEADER)
            .is_none()
    {
        detail.push_str(" (no cf-aig-gateway-id header: Cloudflare uses the account's `default` gateway; set provider.headers.cf-aig-gateway-id to choose one)");
    }
    let mut warnings = Vec::new();
    if !valid_account_id(a) {
        warnings.push(
            "the account id is not 32 hex characters: check it against the Cloudflare dashboard"
                .to_string(),
        );
    }
    if !valid_gateway_name(g) {
        warnings.push(
            "the gateway name is not [a-z0-9_-]{1,64}: check it against the Cloudflare dashboard"
                .to_string(),
        );
    }
    warnings
}

/// Fetches the catalog and judges the answer against the model settings.
fn probe_check(client: &Client) -> Value {
    let profile = client.profile();
    match client.fetch_models() {
        Ok(models) => {
            let selected = client
                .select_models(None)
                .ok()
                .and_then(|m| m.into_iter().next());
            let mut detail = format!("{} model(s) listed", models.len());
            if let Some(m) = profile.model.as_ref().or(selected.as_ref()) {
                detail.push_str(&format!("; chat will use `{m}`"));
            }
            let mut status = if models.is_empty() && profile.model.is_none() {
                "fail"
            } else {
                "pass"
            };
            if let Some(pinned) = &profile.model {
                let ids: Vec<&str> = models.iter().filter_map(model_id).collect();
                if !ids.is_empty() && !ids.iter().any(|id| id.eq_ignore_ascii_case(pinned)) {
                    status = "warn";
                    detail.push_str(&format!(
                        "; `{pinned}` is not in the catalog (closest: {}): check provider.model",
                        closest(pinned, &ids, 3).join(", ")
                    ));
                }
            }
            check("model_probe", status, detail)
        }
        Err(e) if matches!(e.code, ErrorCode::Connection | ErrorCode::Timeout) => check(
            "model_probe",
            "fail",
            format!("the models endpoint is unreachable: {}", e.message),
        ),
        Err(e) if e.code == ErrorCode::Auth => {
            // A rejected credential fails whatever the model setting: a pinned model does
            // not make a refused key work.
            let detail = if e.provider_code.as_deref() == Some("2009")
                && profile.gateway.authorization.is_none()
            {
                format!("this gateway requires authentication: set gateway.authorization to a Cloudflare AI Gateway token ({})", e.message)
            } else if e.provider_code.as_deref() == Some("2009") {
                format!(
                    "the gateway refused its token: check gateway.authorization ({})",
                    e.message
                )
            } else {
                let source = match client.credentials() {
                    Ok(c) => c.source.label(),
                    Err(_) => "no credentials".to_string(),
                };
                format!(
                    "the models endpoint refused the credentials from {source}: {}",
                    e.message
                )
            };
            check("model_probe", "fail", detail)
        }
        Err(e) => unreliable_catalog_check(client, &e),
    }
}

/// A catalog that failed for a reason other than the network or a refused credential: only a
/// failure when nothing else tells chat which model to use.
fn unreliable_catalog_check(client: &Client, e: &crate::error::Error) -> Value {
    let profile = client.profile();
    let mut reason = e.message.clone();
    if e.http_status == Some(404) {
        if let Some(advice) = not_found_advice(client) {
            reason.push_str("; ");
            reason.push_str(&advice);
        }
    }
    if let Some(m) = &profile.model {
        check(
            "model_probe",
            "warn",
            format!("chat may still work because model `{m}` is explicitly configured ({reason})"),
        )
    } else if !profile.preferred_models.is_empty() {
        check(
            "model_probe",
            "warn",
            format!(
                "runtime will try configured preferred model fallback(s): {} ({reason})",
                profile.preferred_models.join(", "),
            ),
        )
    } else {
        check(
            "model_probe",
            "fail",
            format!(
                "current config still uses model = auto; set provider.model explicitly or configure preferred_models before retrying ({LIST_MODELS_RECOVERY}; {reason})"
            ),
        )
    }
}
