//! What an upstream answer means, decided in one pass: the typed error of a non-2xx answer (code
//! by status, message and provider code from the body, scrubbed), the gateway's own refusals,
//! Guardrails, the request id, the server's requested delay, and whether another attempt, another
//! key or another model could help.

use std::time::{SystemTime, UNIX_EPOCH};

use ureq::http::HeaderMap;

use crate::error::{Error, ErrorCode};
use crate::gateway::{parse_error_body, ErrorBody};
use crate::scrub::Scrubber;
use crate::transport::header;

/// A non-2xx answer, classified.
#[derive(Debug)]
pub struct Refusal {
    /// The error the caller gets if nothing else is tried (history not attached yet).
    pub error: Error,
    /// The HTTP status.
    pub status: u16,
    /// Set when the gateway itself refused: no other key and no retry can help.
    pub gateway: Option<GatewayRefusal>,
    /// Whether the same request may succeed later (the retry policy decides whether it waits).
    pub retryable: bool,
    /// Whether another provider key may be accepted (401, 403, 429).
    pub key_refused: bool,
    /// Whether the error is about the model, so the next candidate model may work.
    pub model_shaped: bool,
}

/// Classifies a non-2xx answer from its status, headers and (bounded) body.
pub fn classify(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
    scrubber: &Scrubber,
) -> Refusal {
    let (error, parsed) = status_error(status, headers, body, url, scrubber);
    let gateway = GatewayRefusal::of(status, &parsed);
    Refusal {
        retryable: gateway.is_none() && retryable_status(status, parsed.code.as_deref()),
        key_refused: gateway.is_none() && matches!(status, 401 | 403 | 429),
        model_shaped: model_shaped(status, &parsed),
        gateway,
        status,
        error,
    }
}

/// The error for a non-2xx answer: code by status, message and provider code from the body.
/// The body is scrubbed of the client's secrets before any of it is kept (upstreams quote the
/// key they refused), then cut to a readable length.
fn status_error(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    url: &str,
    scrubber: &Scrubber,
) -> (Error, ErrorBody) {
    let parsed = parse_error_body(body);
    let code = ErrorCode::from_http_status(status);
    let detail = match &parsed.message {
        Some(message) => scrubber.scrub(message).into_owned(),
        None => {
            let text = scrubber.scrub_prefix(body, 200).trim().to_string();
            if text.is_empty() {
                "no error body".to_string()
            } else {
                text
            }
        }
    };
    let explained = explain(status, &parsed);
    let what = match (code, explained) {
        (_, Some((what, _))) => what,
        (ErrorCode::Auth, None) => "authentication failed (check the key and, for authenticated gateways, gateway.authorization)",
        (ErrorCode::RateLimited, None) => "rate limited",
        _ if (300..400).contains(&status) => "redirected (aigw does not follow redirects: point provider.base_url at the final URL)",
        _ => "request failed",
    };
    let mut message = format!("{what}: HTTP {status} from {url}: {detail}");
    if (300..400).contains(&status) {
        let location = header(headers, "location").unwrap_or("(no Location header)");
        message.push_str(&format!("; Location: {}", scrubber.scrub(location)));
    }
    let mut err = Error::new(code, message);
    err.http_status = Some(status);
    err.provider_code = match explained {
        Some((_, Some(known))) => Some(known.to_string()),
        _ => parsed.code.clone().or_else(|| {
            // AWS names the error in a header: `ThrottlingException:http://…`.
            header(headers, "x-amzn-errortype")
                .map(|t| t.split(':').next().unwrap_or(t).trim().to_string())
                .filter(|t| !t.is_empty())
        }),
    };
    err.request_id = request_id(headers);
    err.retry_after_ms = server_delay(headers, SystemTime::now());
    (scrubber.scrub_error(err), parsed)
}

/// The headers a request id may come in, first present wins: providers' own, Cloudflare's,
/// Anthropic's, Bedrock's, LiteLLM's.
pub const REQUEST_ID_HEADERS: [&str; 5] = [
    "x-request-id",
    "cf-aig-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-litellm-call-id",
];

/// The request id and the header it came from (see [`REQUEST_ID_HEADERS`]).
pub fn request_id_with_header(headers: &HeaderMap) -> Option<(&'static str, String)> {
    request_id_by(|name| header(headers, name))
}

/// [`request_id_with_header`] over any header lookup.
pub(crate) fn request_id_by<'h>(
    get: impl Fn(&str) -> Option<&'h str>,
) -> Option<(&'static str, String)> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| get(name).map(|v| (*name, v.to_string())))
}

/// The request id of an answer, else its `cf-aig-log-id`.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    request_id_with_header(headers)
        .map(|(_, id)| id)
        .or_else(|| header(headers, "cf-aig-log-id").map(str::to_string))
}

/// A refusal by the gateway itself rather than by the provider behind it: the key pool must
/// not move on (another provider key cannot help) and retrying cannot help either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRefusal {
    /// 401 with code 2009: the gateway refused its own token (`cf-aig-authorization`).
    Token,
    /// 429 "Spending limit exceeded": a gateway spending policy, reset hourly or later.
    SpendingLimit,
    /// 403 "Access denied by policy".
    Policy,
}

impl GatewayRefusal {
    /// Recognises a gateway refusal from the status and the parsed body.
    pub fn of(status: u16, body: &ErrorBody) -> Option<GatewayRefusal> {
        let message = body.message.as_deref().unwrap_or("").to_ascii_lowercase();
        match status {
            401 if body.code.as_deref() == Some("2009") => Some(GatewayRefusal::Token),
            429 if message.contains("spending limit") => Some(GatewayRefusal::SpendingLimit),
            403 if message.contains("denied by policy") => Some(GatewayRefusal::Policy),
            _ => None,
        }
    }
}

/// What an error says, beyond its status: the gateway's own refusals and Guardrails, with
/// the provider code they are known by and what the operator should do.
fn explain(status: u16, body: &ErrorBody) -> Option<(&'static str, Option<&'static str>)> {
    if let Some(refusal) = GatewayRefusal::of(status, body) {
        return Some(match refusal {
            GatewayRefusal::Token => (
                "the gateway refused its own token (code 2009), not the provider key: this gateway requires authentication; set or fix gateway.authorization (sent as cf-aig-authorization)",
                None,
            ),
            GatewayRefusal::SpendingLimit => (
                "the gateway's spending limit is exceeded (a Cloudflare spending policy; it resets hourly or later, so aigw does not retry)",
                Some("spending_limit"),
            ),
            GatewayRefusal::Policy => (
                "access denied by a gateway policy (Cloudflare AI Gateway policies)",
                Some("policy"),
            ),
        });
    }
    match (status, body.code.as_deref()) {
        (424 | 422, Some("2016")) => Some((
            "Cloudflare Guardrails blocked the prompt (code 2016)",
            None,
        )),
        (424 | 422, Some("2017")) => Some((
            "Cloudflare Guardrails blocked the request or response (code 2017)",
            None,
        )),
        (402, Some("2021")) => Some((
            "out of credit (code 2021): the gateway's Guardrails scanner or balance has no credit left",
            None,
        )),
        _ => None,
    }
}

/// Whether an error body (404/400) is about the model, so the next candidate may work.
pub fn model_shaped(status: u16, body: &ErrorBody) -> bool {
    if status != 404 && status != 400 {
        return false;
    }
    let mentions = |s: &Option<String>| {
        s.as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("model"))
    };
    mentions(&body.code) || mentions(&body.param) || mentions(&body.message)
}

/// Statuses worth another attempt (docs/contract.md §6).
pub fn retryable_status(status: u16, provider_code: Option<&str>) -> bool {
    match status {
        429 => provider_code != Some("insufficient_quota"),
        // 529: "overloaded" (Anthropic, some gateways); the SDKs retry it like 503.
        408 | 409 | 425 | 500 | 502 | 503 | 504 | 529 => true,
        _ => false,
    }
}

/// `retry-after-ms`, then `Retry-After` (seconds or HTTP date), in milliseconds.
pub fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(ms.ceil() as u64);
        }
    }
    let value = header(headers, "retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now).saturating_mul(1000))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // The header comes from the network: out-of-range fields are no date (and no overflow).
    if !(1970..=9999).contains(&year) || !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm); all terms are small after the checks.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + (*h * 3600 + *m * 60 + *s) as i64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(
            parse_http_date("Sun, 06 Nov 9223372036854775807 08:49:37 GMT"),
            None
        );
        assert_eq!(parse_http_date("Sun, 99 Nov 1994 99:49:37 GMT"), None);
    }

    #[test]
    fn retry_classes() {
        assert!(retryable_status(429, Some("rate_limit")));
        assert!(!retryable_status(429, Some("insufficient_quota")));
        assert!(retryable_status(503, None));
        assert!(retryable_status(529, None));
        assert!(!retryable_status(400, None));
    }
}
