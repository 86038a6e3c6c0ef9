//! Error-envelope target: `gateway::parse_error_body` on any bytes. Non-JSON gives nothing,
//! the documented shapes give their message (the gateway's `{"error":[{"message"}]}` first),
//! and every field it returns is text found in the body.

use aigw_core::gateway::{parse_error_body, parse_error_value, ErrorBody};
use serde_json::{Map, Value};

use crate::rng::Rng;
use crate::{ensure, Fingerprint, Outcome, Violation};

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

const KEYS: &[&str] = &[
    "error", "errors", "message", "code", "type", "param", "success", "result", "messages",
    "detail", "",
];
const WORDS: &[&str] = &[
    "Unauthorized",
    "",
    "rate limited",
    "model_not_found",
    "2009",
    "\u{0}",
    "é🦀",
    "sk-FUZZSECRET",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 4 } else { 6 }) {
        0 => Value::String(rng.pick(WORDS).to_string()),
        1 => match rng.below(4) {
            0 => Value::from(rng.next_u64()),
            1 => Value::from(-(rng.below(1000) as i64)),
            2 => Value::from(rng.below(100) as f64 / 8.0),
            _ => Value::from(2009),
        },
        2 => Value::Bool(rng.one_in(2)),
        3 => Value::Null,
        4 => Value::Array(
            (0..rng.below(3))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.below(5) {
        map.insert(rng.pick(KEYS).to_string(), random_value(rng, depth));
    }
    Value::Object(map)
}

/// A JSON body shaped like an error envelope (`error`/`errors`/`message` with objects,
/// arrays, strings and wrong types), compact or pretty.
pub fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut root = random_object(rng, 0);
    if let Value::Object(map) = &mut root {
        let key = *rng.pick(&["error", "errors", "message", "error"]);
        let inner = match rng.below(4) {
            0 => Value::Array(vec![random_object(rng, 1), random_value(rng, 1)]),
            1 => random_object(rng, 1),
            2 => Value::String(rng.pick(WORDS).to_string()),
            _ => random_value(rng, 1),
        };
        map.insert(key.to_string(), inner);
    }
    if rng.one_in(2) {
        serde_json::to_vec_pretty(&root).unwrap_or_default()
    } else {
        serde_json::to_vec(&root).unwrap_or_default()
    }
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
pub fn check(input: &[u8]) -> Result<Outcome, Violation> {
    let parsed = parse_error_body(input);
    let mut fingerprint = Fingerprint::default();
    fingerprint.add((
        parsed.message.is_some(),
        parsed.code.is_some(),
        parsed.kind.is_some(),
        parsed.param.is_some(),
    ));
    let Ok(value) = serde_json::from_slice::<Value>(input) else {
        ensure(
            parsed == ErrorBody::default(),
            "non_json_gives_nothing",
            || format!("a body that is not JSON gave {parsed:?}"),
        )?;
        return Ok(fingerprint.finish());
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
        return Ok(fingerprint.finish());
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
    let shape = ["error", "errors", "message"].map(|k| match root.get(k) {
        None => 0u8,
        Some(Value::Array(a)) => 1 + u8::from(matches!(a.first(), Some(Value::Object(_)))),
        Some(Value::Object(_)) => 3,
        Some(Value::String(_)) => 4,
        Some(_) => 5,
    });
    fingerprint.add(shape);
    Ok(fingerprint.finish())
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

    #[test]
    fn generated_inputs_pass() {
        let mut rng = Rng::new(3);
        for _ in 0..500 {
            let input = generate(&mut rng);
            assert!(check(&input).is_ok(), "{}", String::from_utf8_lossy(&input));
        }
    }
}
