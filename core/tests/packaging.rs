//! One version, license, description and repository for the whole project: every manifest
//! (each crate's Cargo.toml through the workspace, pyproject.toml, package.json) agrees.

use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn workspace_package() -> toml::Table {
    let root: toml::Table = toml::from_str(&read("Cargo.toml")).expect("root Cargo.toml");
    root["workspace"]["package"]
        .as_table()
        .expect("[workspace.package]")
        .clone()
}

#[test]
fn every_crate_inherits_the_workspace_metadata() {
    let root: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let members = root["workspace"]["members"].as_array().unwrap();
    for member in members {
        let path = format!("{}/Cargo.toml", member.as_str().unwrap());
        let manifest: toml::Table = toml::from_str(&read(&path)).unwrap();
        let package = manifest["package"].as_table().unwrap();
        for field in ["version", "license", "description", "repository", "edition"] {
            assert_eq!(
                package[field]["workspace"].as_bool(),
                Some(true),
                "{path}: {field} must be `.workspace = true`"
            );
        }
    }
    assert_eq!(
        workspace_package()["version"].as_str(),
        Some(aigw_core::VERSION)
    );
}

#[test]
fn python_and_node_packages_carry_the_same_metadata() {
    let ws = workspace_package();
    let pyproject: toml::Table = toml::from_str(&read("bindings/python/pyproject.toml")).unwrap();
    let project = pyproject["project"].as_table().unwrap();
    assert_eq!(project["name"].as_str(), Some("aigw"));
    assert_eq!(project["license"].as_str(), ws["license"].as_str());
    assert_eq!(project["description"].as_str(), ws["description"].as_str());
    assert_eq!(
        project["urls"]["Repository"].as_str(),
        ws["repository"].as_str()
    );
    let dynamic: Vec<&str> = project["dynamic"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        dynamic.contains(&"version"),
        "pyproject takes its version from Cargo (maturin)"
    );

    let package: Value = serde_json::from_str(&read("bindings/node/package.json")).unwrap();
    assert_eq!(package["name"], "aigw");
    assert_eq!(package["version"].as_str(), ws["version"].as_str());
    assert_eq!(package["license"].as_str(), ws["license"].as_str());
    assert_eq!(package["description"].as_str(), ws["description"].as_str());
    assert_eq!(
        package["repository"]["url"].as_str(),
        ws["repository"].as_str()
    );
}

#[test]
fn both_license_texts_are_at_the_root() {
    assert!(read("LICENSE-MIT").contains("MIT License"));
    assert!(read("LICENSE-APACHE").contains("Apache License"));
}
