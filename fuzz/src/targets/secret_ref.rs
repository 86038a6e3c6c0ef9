//! Secret-reference target: `SecretRef::parse` on any string and `SecretRef::from_value` on any
//! JSON. A literal's `Debug` and `source()` reveal nothing of it, env references name a valid
//! variable taken from the text, and no error message repeats a value.

use std::collections::HashMap;

use aigw_core::{Env, ErrorCode, SecretRef};
use serde_json::{json, Map, Value};

use crate::{ensure, Violation, SECRET_MARKER};

/// The path `from_value` is given; it names the field in error messages.
const PATH: &str = "provider.api_key";

/// The string forms and the table keys of a secret reference.
pub fn dictionary() -> Vec<Vec<u8>> {
    [
        "${",
        "}",
        "$",
        "env:",
        "env: ",
        "file:",
        "{\"env\":\"",
        "{\"file\":\"",
        "\"}",
        "OPENAI_API_KEY",
        "_",
        "A1",
        "1A",
        "-",
        "sk-",
        SECRET_MARKER,
        "Literal(***)",
        "***",
        " ",
        "\t",
        "\n",
        ",",
        ";",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_parse(text: &str) -> Result<(), Violation> {
    let parsed = SecretRef::parse(text);
    let debug = format!("{parsed:?}");
    match &parsed {
        SecretRef::Literal(secret) => {
            // Equality is the strongest form of "the Debug never contains the text": the only
            // texts it can contain are pieces of the fixed `Literal(***)` itself.
            ensure(debug == "Literal(***)", "literal_debug_redacted", || {
                format!("Debug of a literal parsed from {text:?} is {debug:?}")
            })?;
            ensure(
                text.trim().len() < 4 || !debug.contains(text) || "Literal(***)".contains(text),
                "literal_debug_redacted",
                || format!("Debug {debug:?} contains the literal {text:?}"),
            )?;
            ensure(
                parsed.source() == "inline",
                "literal_source_is_inline",
                || format!("source() of a literal is {:?}", parsed.source()),
            )?;
            ensure(secret.expose() == text, "literal_keeps_text", || {
                format!("parse({text:?}) kept {:?}", secret.expose())
            })?;
            let resolved = parsed.resolve(&Env::from_map(HashMap::new()));
            let trimmed = text.trim();
            ensure(
                resolved.as_ref().map(|s| s.expose()) == (!trimmed.is_empty()).then_some(trimmed),
                "literal_resolves_trimmed",
                || format!("parse({text:?}).resolve() gave {resolved:?}"),
            )?;
        }
        SecretRef::Env(name) => {
            ensure(
                is_env_name(name) && text.contains(name.as_str()),
                "env_name_valid",
                || format!("parse({text:?}) gave Env({name:?})"),
            )?;
            ensure(
                debug == format!("Env({name:?})"),
                "env_debug_names_variable",
                || format!("Debug of Env({name:?}) is {debug:?}"),
            )?;
            let env = Env::from_map(HashMap::from([(name.clone(), " value ".to_string())]));
            let resolved = parsed.resolve(&env);
            ensure(
                resolved.as_ref().map(|s| s.expose()) == Some("value"),
                "env_resolves_trimmed",
                || format!("Env({name:?}) resolved to {resolved:?}"),
            )?;
        }
        SecretRef::File(path) => {
            ensure(false, "parse_never_gives_file", || {
                format!("parse({text:?}) gave File({path:?})")
            })?;
        }
    }
    Ok(())
}

/// Whether any object key in `value` contains the marker (keys are names, not secrets).
fn marker_in_key(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains(SECRET_MARKER) || marker_in_key(v)),
        Value::Array(items) => items.iter().any(marker_in_key),
        _ => false,
    }
}

fn check_from_value(value: &Value) -> Result<(), Violation> {
    let result = SecretRef::from_value(value, PATH);
    match (&result, value) {
        (Ok(r), Value::String(s)) => {
            ensure(*r == SecretRef::parse(s), "string_value_is_parsed", || {
                format!(
                    "from_value({value}) gave {r:?}, parse gives {:?}",
                    SecretRef::parse(s)
                )
            })?;
        }
        (Err(e), Value::String(_)) => {
            ensure(false, "string_value_accepted", || {
                format!("from_value({value}) failed: {}", e.message)
            })?;
        }
        (Ok(SecretRef::Env(name)), _) => {
            ensure(is_env_name(name), "env_name_valid", || {
                format!("from_value({value}) gave Env({name:?})")
            })?;
        }
        (Ok(SecretRef::File(path)), _) => {
            ensure(!path.as_os_str().is_empty(), "file_path_nonempty", || {
                format!("from_value({value}) gave an empty file path")
            })?;
        }
        (Ok(SecretRef::Literal(_)), _) => {
            ensure(false, "literal_only_from_string", || {
                format!("from_value({value}) gave a literal")
            })?;
        }
        (Err(e), _) => {
            ensure(e.code == ErrorCode::Config, "errors_are_config", || {
                format!("from_value({value}) failed with {}", e.code)
            })?;
            ensure(
                marker_in_key(value) || !e.message.contains(SECRET_MARKER),
                "error_hides_value",
                || format!("from_value({value}) error repeats a value: {}", e.message),
            )?;
        }
    }
    if let Ok(r) = &result {
        let debug = format!("{r:?}");
        ensure(
            !matches!(r, SecretRef::Literal(_)) || !debug.contains(SECRET_MARKER),
            "literal_debug_redacted",
            || format!("Debug of from_value({value}) is {debug}"),
        )?;
        std::hint::black_box(r.source());
    }
    Ok(())
}

/// A JSON value built from the input: its first byte picks the shape (string, `{env}`,
/// `{file}`, both, wrong types, other keys, non-strings), the rest gives the text, often
/// behind the secret marker.
pub fn value_from_bytes(input: &[u8]) -> Value {
    let (head, rest) = input.split_first().map_or((0, &b""[..]), |(h, r)| (*h, r));
    let text = String::from_utf8_lossy(rest).into_owned();
    let secret = format!("{SECRET_MARKER}{text}");
    let odd = match head >> 4 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(head),
        3 => json!(-1.5),
        4 => json!([secret]),
        5 => json!({ "env": secret }),
        6 => json!(""),
        _ => json!(text),
    };
    match head % 11 {
        0 => json!(text),
        1 => json!(secret),
        2 => json!({ "env": text }),
        3 => json!({ "env": secret }),
        4 => json!({ "file": text }),
        5 => json!({ "file": secret }),
        6 => json!({ "env": text, "file": secret }),
        7 => json!({ "env": odd }),
        8 => json!({ "file": odd }),
        9 => {
            let mut map = Map::new();
            map.insert(text.clone(), json!(secret));
            Value::Object(map)
        }
        _ => odd,
    }
}

/// Parses the input as a string, and gives `from_value` the input as JSON (when it is) and a
/// value built from it.
pub fn check(input: &[u8]) -> Result<(), Violation> {
    let text = String::from_utf8_lossy(input);
    check_parse(&text)?;
    if let Ok(value) = serde_json::from_slice::<Value>(input) {
        check_from_value(&value)?;
    }
    check_from_value(&value_from_bytes(input))?;
    Ok(())
}
