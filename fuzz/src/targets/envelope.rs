//! Error-envelope target: `gateway::parse_error_body` on any bytes. Non-JSON gives nothing,
//! the documented shapes give their message (the gateway's `{"error":[{"message"}]}` first),
//! and every field it returns is text found in the body.

use aigw_core::gateway::{parse_error_body, parse_error_value, ErrorBody};
use serde_json::{Map, Value};

use crate::{ensure, Violation};

/// Keys and shapes of gateway and provider error bodies.
pub fn dictionary() -> Vec<Vec<u8>> {
    [
        "\"error\":",
        "\"errors\":",
        "\"message\":",
        "\"code\":",
        "\"type\":",
        "\"param\":",
        "\"success\":false,",
        "\"result\":null,",
        "[{\"code\":2009,\"message\":\"Unauthorized\"}]",
        "{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "1.0e3",
        "-0",
        "[[",
        "{\"",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn message_of(obj: &Map<String, Value>) -> Option<String> {
    match obj.get("message") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The message the documented shapes promise, when the body has one of them.
fn promised_message(root: &Map<String, Value>) -> Option<String> {
    match root.get("error") {
        Some(Value::Array(items)) => match items.first() {
            Some(Value::Object(first)) => message_of(first),
            _ => None,
        },
        Some(Value::Object(obj)) => message_of(obj),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Every string and number in `value`, as text.
fn scalars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| scalars(v, out)),
        Value::Object(map) => map.values().for_each(|v| scalars(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Parses the input as an error body and checks it against serde_json's reading of it.
pub fn check(input: &[u8]) -> Result<(), Violation> {
    let parsed = parse_error_body(input);
    let Ok(value) = serde_json::from_slice::<Value>(input) else {
        ensure(
            parsed == ErrorBody::default(),
            "non_json_gives_nothing",
            || format!("a body that is not JSON gave {parsed:?}"),
        )?;
        return Ok(());
    };
    ensure(
        parsed == parse_error_value(&value),
        "body_and_value_agree",
        || {
            format!(
                "parse_error_body gave {parsed:?}, parse_error_value {:?}",
                parse_error_value(&value)
            )
        },
    )?;
    let Value::Object(root) = &value else {
        ensure(
            parsed == ErrorBody::default(),
            "non_object_gives_nothing",
            || {
                format!(
                    "a JSON {} gave {parsed:?}",
                    value.to_string().chars().take(40).collect::<String>()
                )
            },
        )?;
        return Ok(());
    };
    if let Some(message) = promised_message(root) {
        ensure(
            parsed.message.as_deref() == Some(message.as_str()),
            "documented_shape_gives_message",
            || format!("expected message {message:?}, got {parsed:?}"),
        )?;
    }
    let mut found = Vec::new();
    scalars(&value, &mut found);
    for (name, field) in [
        ("message", &parsed.message),
        ("code", &parsed.code),
        ("type", &parsed.kind),
        ("param", &parsed.param),
    ] {
        if let Some(text) = field {
            ensure(found.contains(text), "fields_come_from_body", || {
                format!("{name} {text:?} is not a string or number of the body")
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_envelope_gives_first_message() {
        let body = br#"{"success":false,"result":null,"error":[{"code":2009,"message":"Unauthorized"},{"message":"x"}]}"#;
        assert!(check(body).is_ok());
        assert_eq!(
            parse_error_body(body).message.as_deref(),
            Some("Unauthorized")
        );
    }
}
