//! Operator surfaces (docs/contract.md §9): `describe()` (what the client will do, no network) and
//! `doctor()` (config, credentials, route and a model probe, each pass/warn/fail).

use serde_json::{json, Value};

use crate::auth::CredentialSource;
use crate::client::{Client, LIST_MODELS_RECOVERY};
use crate::error::ErrorCode;
use crate::gateway::GATEWAY_FIELDS;

/// The descriptor document.
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
    let gateway = &profile.gateway;
    let gateway_json = json!({
        "authorization": gateway.authorization.as_ref().map(|a| a.source()),
        "cache_ttl": gateway.cache_ttl,
        "skip_cache": gateway.skip_cache,
        "cache_key": gateway.cache_key,
        "metadata": gateway.metadata,
        "collect_log": gateway.collect_log,
        "collect_log_payload": gateway.collect_log_payload,
        "request_timeout_ms": gateway.request_timeout_ms,
        "max_attempts": gateway.max_attempts,
        "retry_delay_ms": gateway.retry_delay_ms,
        "backoff": gateway.backoff.map(|b| format!("{b:?}").to_ascii_lowercase()),
        "event_id": gateway.event_id,
        "byok_alias": gateway.byok_alias,
    });
    debug_assert_eq!(
        gateway_json.as_object().map(|m| m.len()),
        Some(GATEWAY_FIELDS.len())
    );
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
            "account_id": route.account_id,
            "gateway_name": route.gateway_name,
            "hint": route.hint,
        },
        "credentials": credentials,
        "model": {
            "strategy": if profile.model.is_some() { "explicit_model" } else { "auto_discovery" },
            "model": profile.model,
            "preferred_models": profile.preferred_models,
        },
        "headers": profile.headers.names(),
        "gateway": gateway_json,
        "transport": {
            "connect_timeout_ms": profile.connect_timeout_ms,
            "request_timeout_ms": profile.request_timeout_ms,
            "stream_idle_timeout_ms": profile.stream_idle_timeout_ms,
            "retry_max_attempts": profile.retry_max_attempts,
            "retry_initial_backoff_ms": profile.retry_initial_backoff_ms,
            "retry_max_backoff_ms": profile.retry_max_backoff_ms,
            "model_catalog_cache_ttl_ms": profile.model_catalog_cache_ttl_ms,
            "model_catalog_stale_if_error_ms": profile.model_catalog_stale_if_error_ms,
            "max_response_bytes": profile.max_response_bytes,
            "allow_http": profile.allow_http,
        },
        "version": crate::VERSION,
    })
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

/// The doctor report: `{ "status": pass|warn|fail, "checks": [...] }`.
pub fn doctor(client: &Client) -> Value {
    let kind = client.kind();
    let route = client.route();
    let profile = client.profile();
    let mut checks = vec![check(
        "config",
        "pass",
        format!(
            "kind {} ({}), model {}",
            kind.id,
            kind.protocol_family.as_str(),
            profile.model.as_deref().unwrap_or("auto")
        ),
    )];
    let creds_ok = match client.credentials() {
        Ok(c) if c.source == CredentialSource::None => {
            checks.push(check(
                "credentials",
                "pass",
                "none configured; this kind's auth is optional",
            ));
            true
        }
        Ok(c) => {
            checks.push(check(
                "credentials",
                "pass",
                format!(
                    "from {} ({} key(s) in the pool)",
                    c.source.label(),
                    c.pool_size()
                ),
            ));
            true
        }
        Err(e) => {
            checks.push(check("credentials", "fail", e.message.clone()));
            false
        }
    };
    let route_ok = match &route.hint {
        Some(hint) => {
            checks.push(check("route", "fail", hint.clone()));
            false
        }
        None => {
            let mut detail = format!("request endpoint {}", route.request_endpoint);
            if let Some(m) = &route.models_endpoint {
                detail.push_str(&format!("; models endpoint {m}"));
            }
            let mut status = "pass";
            if kind.id == "cloudflare_ai_gateway" {
                match (&route.account_id, &route.gateway_name) {
                    (Some(a), Some(g)) => {
                        detail.push_str(&format!("; account_id {a}; gateway_name {g}"));
                        if !valid_account_id(a) {
                            status = "warn";
                            detail.push_str("; the account id is not 32 hex characters: check it against the Cloudflare dashboard");
                        }
                        if !valid_gateway_name(g) {
                            status = "warn";
                            detail.push_str("; the gateway name is not [a-z0-9_-]{1,64}: check it against the Cloudflare dashboard");
                        }
                    }
                    _ => {
                        status = "warn";
                        detail.push_str("; the URL does not have the /v1/{account_id}/{gateway_name}/ shape of Cloudflare AI Gateway");
                    }
                }
            }
            checks.push(check("route", status, detail));
            true
        }
    };
    let credentials_usable = creds_ok || kind.model_probe_auth_optional;
    let probe = if !route_ok {
        check("model_probe", "warn", "skipped: the route is unresolved")
    } else if !credentials_usable {
        check("model_probe", "warn", "skipped: credentials are missing")
    } else if route.models_endpoint.is_none() {
        check(
            "model_probe",
            "warn",
            format!("skipped: {} has no models endpoint", kind.id),
        )
    } else {
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
                check(
                    "model_probe",
                    if models.is_empty() && profile.model.is_none() {
                        "fail"
                    } else {
                        "pass"
                    },
                    detail,
                )
            }
            Err(e) if matches!(e.code, ErrorCode::Connection | ErrorCode::Timeout) => check(
                "model_probe",
                "fail",
                format!("the models endpoint is unreachable: {}", e.message),
            ),
            Err(e) => {
                if let Some(m) = &profile.model {
                    check(
                        "model_probe",
                        "warn",
                        format!(
                            "chat may still work because model `{m}` is explicitly configured ({})",
                            e.message
                        ),
                    )
                } else if !profile.preferred_models.is_empty() {
                    check(
                        "model_probe",
                        "warn",
                        format!(
                            "runtime will try configured preferred model fallback(s): {} ({})",
                            profile.preferred_models.join(", "),
                            e.message
                        ),
                    )
                } else {
                    check(
                        "model_probe",
                        "fail",
                        format!(
                            "current config still uses model = auto; set provider.model explicitly or configure preferred_models before retrying ({}; {})",
                            LIST_MODELS_RECOVERY, e.message
                        ),
                    )
                }
            }
        }
    };
    checks.push(probe);
    let worst = if checks.iter().any(|c| c["status"] == "fail") {
        "fail"
    } else if checks.iter().any(|c| c["status"] == "warn") {
        "warn"
    } else {
        "pass"
    };
    json!({ "status": worst, "ok": worst != "fail", "kind": kind.id, "checks": checks })
}
