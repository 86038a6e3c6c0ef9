//! The README's config reference is checked against the code so the two cannot drift.

use aigw_core::gateway::GATEWAY_FIELDS;
use aigw_core::profile::{BOUNDS, PROFILE_FIELDS};

fn readme() -> String {
    std::fs::read_to_string(format!("{}/../README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README.md")
}

/// The rows of the markdown table that follows `heading`: first cell → whole row.
fn table_after(text: &str, heading: &str) -> Vec<(String, String)> {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README lacks `{heading}`"));
    text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let first = l
                .split('|')
                .nth(1)
                .unwrap_or("")
                .trim()
                .trim_matches('`')
                .to_string();
            (first, l.to_string())
        })
        .collect()
}

#[test]
fn every_profile_field_is_documented_with_its_default_and_clamp() {
    let text = readme();
    let rows = table_after(&text, "### Profile fields");
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names, PROFILE_FIELDS,
        "README profile table must list exactly the profile fields, in order"
    );
    for b in BOUNDS {
        let (_, row) = rows.iter().find(|(n, _)| n == b.name).expect("documented");
        assert!(
            row.contains(&format!("| {} |", b.default)),
            "{}: default {} not in `{row}`",
            b.name,
            b.default
        );
        let max = b.max.to_string();
        assert!(
            row.contains(&format!("..{max}")),
            "{}: max {max} not in `{row}`",
            b.name
        );
        if b.name != "retry_max_backoff_ms" {
            assert!(
                row.contains(&format!("{}..", b.min)),
                "{}: min {} not in `{row}`",
                b.name,
                b.min
            );
        }
    }
}

#[test]
fn every_gateway_option_is_documented() {
    let text = readme();
    let rows = table_after(&text, "### Gateway options");
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names, GATEWAY_FIELDS,
        "README gateway table must list exactly the gateway options, in order"
    );
}
