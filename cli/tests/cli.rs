//! The CLI's verbs, their output and exit codes (0 ok, 1 failed check/request, 2 usage/config),
//! run as a real process against the in-process mock gateway.

use std::path::PathBuf;
use std::process::{Command, Output};

use aigw_mock::{MockConfig, MockGateway};

const KEY: &str = "cli-test-key-77aa";

fn mock() -> MockGateway {
    MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        ..MockConfig::default()
    })
    .unwrap()
}

fn aigw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aigw"))
        .args(args)
        .env_remove("CLOUDFLARE_AI_GATEWAY_API_KEY")
        .env("CLOUDFLARE_API_KEY", KEY)
        .env_remove("AIGW_LOG")
        .output()
        .expect("aigw runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn config(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aigw-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("aigw.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn profile(m: &MockGateway, extra: &str) -> String {
    format!(
        "active_provider = \"cf\"\n\n[providers.cf]\nkind = \"cloudflare\"\nbase_url = \"{}\"\nretry_max_attempts = 1\n{extra}\n",
        m.base_url("0123456789abcdef0123456789abcdef", "demo-gw")
    )
}

fn no_key(o: &Output) {
    let (out, err) = text(o);
    assert!(
        !out.contains(KEY) && !err.contains(KEY),
        "key leaked:\n{out}\n{err}"
    );
}

#[test]
fn providers_table_and_json() {
    let o = aigw(&["providers"]);
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    assert!(out.starts_with("KIND"));
    let line = out
        .lines()
        .find(|l| l.starts_with("cloudflare_ai_gateway"))
        .expect("cloudflare row");
    assert!(
        line.contains("Gateway And Compatibility Providers")
            && line.contains("openai_chat_completions")
    );
    assert!(line.contains("cloudflare-ai-gateway,cloudflare_ai,cloudflare-ai,cloudflare"));
    assert_eq!(out.lines().count(), 46);
    let o = aigw(&["providers", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 45);
}

#[test]
fn describe_from_flags_shows_the_route() {
    let o = aigw(&[
        "--kind",
        "cloudflare",
        "--account-id",
        "0123456789abcdef0123456789abcdef",
        "--gateway-name",
        "prod-gw",
        "describe",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"]["account_id"], "0123456789abcdef0123456789abcdef");
    assert_eq!(v["route"]["gateway_name"], "prod-gw");
    assert_eq!(v["credentials"]["source"], "env:CLOUDFLARE_API_KEY");
    no_key(&o);
}

#[test]
fn doctor_passes_on_a_working_gateway() {
    let m = mock();
    let cfg = config("doctor-ok", &profile(&m, "model = \"openai/gpt-4o-mini\""));
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    for name in ["config", "credentials", "route", "model_probe"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("pass") && l.contains(name)),
            "{name}: {out}"
        );
    }
    assert!(
        out.contains("account_id 0123456789abcdef0123456789abcdef; gateway_name demo-gw"),
        "{out}"
    );
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "pass");
}

#[test]
fn doctor_on_the_unresolved_template_fails_with_the_hint() {
    let o = aigw(&["--kind", "cloudflare", "doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let (out, _) = text(&o);
    assert!(out.contains("fail  route"), "{out}");
    assert!(out.contains("cloudflare_ai_gateway requires tenant-scoped base_url configuration: replace <account_id> and <gateway_name> in provider.base_url with your real Cloudflare AI Gateway path; current template: https://gateway.ai.cloudflare.com/v1/<account_id>/<gateway_name>/openai/compat"), "{out}");
}

#[test]
fn doctor_warns_on_a_pinned_model_with_a_failing_catalog() {
    let m = mock();
    let cfg = config(
        "doctor-warn",
        &profile(
            &m,
            "model = \"openai/gpt-4o\"\nheaders = { x-mock-fault = \"models:status=500\" }",
        ),
    );
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("warn  model_probe  chat may still work because model `openai/gpt-4o` is explicitly configured"), "{out}");
}

#[test]
fn doctor_fails_on_auto_without_preferred_and_a_failing_catalog() {
    let m = mock();
    let cfg = config(
        "doctor-fail",
        &profile(&m, "headers = { x-mock-fault = \"models:status=500\" }"),
    );
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("fail  model_probe  current config still uses model = auto; set provider.model explicitly or configure preferred_models before retrying"), "{out}");
    assert!(
        out.contains("list-models is unreliable for this account or region"),
        "{out}"
    );
}

#[test]
fn doctor_warns_on_an_odd_account_id_or_gateway_name() {
    let m = mock();
    let cfg = config(
        "doctor-odd",
        &format!(
            "[providers.cf]\nkind = \"cloudflare\"\nbase_url = \"{}\"\nmodel = \"openai/gpt-4o\"\n",
            m.base_url("not-hex", "Bad_Name")
        ),
    );
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor"]);
    let (out, _) = text(&o);
    assert!(out.contains("warn  route"), "{out}");
    assert!(
        out.contains("not 32 hex characters") && out.contains("[a-z0-9_-]{1,64}"),
        "{out}"
    );
}

#[test]
fn list_models_text_json_and_failure() {
    let m = mock();
    let cfg = config("models", &profile(&m, ""));
    let o = aigw(&["--config", cfg.to_str().unwrap(), "list-models"]);
    assert_eq!(o.status.code(), Some(0));
    let (out, err) = text(&o);
    assert!(out.contains("openai/gpt-4o-mini  (openai)"), "{out}");
    assert!(err.contains("3 model(s)"));
    let o = aigw(&["--config", cfg.to_str().unwrap(), "list-models", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    let bad = config("models-bad", &profile(&m, "api_key = \"wrong\""));
    let o = aigw(&["--config", bad.to_str().unwrap(), "list-models"]);
    assert_eq!(o.status.code(), Some(1));
    let (_, err) = text(&o);
    assert!(
        err.contains("error: AUTH") && err.contains("provider code: invalid_api_key"),
        "{err}"
    );
}

#[test]
fn ask_streams_the_answer_and_verbose_shows_the_route() {
    let m = mock();
    let cfg = config("ask", &profile(&m, "model = \"openai/gpt-4o-mini\""));
    let o = aigw(&[
        "--config",
        cfg.to_str().unwrap(),
        "ask",
        "--message",
        "hi there",
        "--verbose",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out.trim_end(), "echo: hi there");
    assert!(err.contains("route: POST http://127.0.0.1:") && err.contains("account_id 0123456789abcdef0123456789abcdef, gateway_name demo-gw, credentials env:CLOUDFLARE_API_KEY"), "{err}");
    assert_eq!(m.requests()[0].json().unwrap()["stream"], true);
    no_key(&o);
    let o = aigw(&["--config", cfg.to_str().unwrap(), "ask"]);
    assert_eq!(o.status.code(), Some(2));
    let bad = config(
        "ask-bad",
        &profile(
            &m,
            "model = \"openai/gpt-4o-mini\"\nheaders = { x-mock-fault = \"status=500\" }",
        ),
    );
    let o = aigw(&["--config", bad.to_str().unwrap(), "ask", "--message", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error: PROVIDER"));
}

#[test]
fn validate_config_accepts_good_and_rejects_bad_configs() {
    let m = mock();
    let good = config("valid", &profile(&m, ""));
    let o = aigw(&["--config", good.to_str().unwrap(), "validate-config"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.starts_with("ok: profile `cf`"));
    let typo = config(
        "typo",
        "[providers.cf]\nkind = \"cloudflare\"\nbase_ulr = \"x\"\n",
    );
    let o = aigw(&["--config", typo.to_str().unwrap(), "validate-config"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("providers.cf.base_ulr"),
        "{}",
        text(&o).1
    );
    let unresolved = config("unresolved", "[providers.cf]\nkind = \"cloudflare\"\n");
    let o = aigw(&["--config", unresolved.to_str().unwrap(), "validate-config"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o)
        .1
        .contains("requires tenant-scoped base_url configuration"));
    assert!(
        m.requests().is_empty(),
        "validate-config makes no network call"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--bogus"][..],
        &[][..],
        &["describe"][..],
        &["frobnicate", "--kind", "openai"][..],
        &["--kind", "cloudfare", "describe"][..],
    ] {
        let o = aigw(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o).1);
    }
    let o = aigw(&["--kind", "cloudfare", "describe"]);
    assert!(text(&o).1.contains("did you mean"), "{}", text(&o).1);
    assert_eq!(aigw(&["--help"]).status.code(), Some(0));
}

#[test]
fn missing_credentials_exit_2_naming_the_env_vars() {
    let o = Command::new(env!("CARGO_BIN_EXE_aigw"))
        .args([
            "--kind",
            "cloudflare",
            "--base-url",
            "http://127.0.0.1:9/v1/a/g/openai/compat",
            "--model",
            "openai/x",
            "ask",
            "--message",
            "x",
        ])
        .env_remove("CLOUDFLARE_API_KEY")
        .env_remove("CLOUDFLARE_AI_GATEWAY_API_KEY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o)
            .1
            .contains("set CLOUDFLARE_API_KEY or CLOUDFLARE_AI_GATEWAY_API_KEY"),
        "{}",
        text(&o).1
    );
}

#[test]
fn debug_logging_redacts_every_secret_header() {
    let m = MockGateway::start(MockConfig {
        api_keys: vec![KEY.to_string()],
        gateway_token: Some("gw-secret-token-1".to_string()),
        ..MockConfig::default()
    })
    .unwrap();
    let cfg = config(
        "debug-log",
        &profile(&m, "model = \"openai/gpt-4o-mini\"\n[providers.cf.gateway]\nauthorization = \"gw-secret-token-1\""),
    );
    for verb in [
        &["doctor"][..],
        &["list-models"][..],
        &["ask", "--message", "x"][..],
        &["describe"][..],
    ] {
        let mut args = vec!["--config", cfg.to_str().unwrap()];
        args.extend_from_slice(verb);
        let o = Command::new(env!("CARGO_BIN_EXE_aigw"))
            .args(&args)
            .env("CLOUDFLARE_API_KEY", KEY)
            .env("AIGW_LOG", "debug")
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{verb:?}: {err}");
        no_key(&o);
        assert!(
            !out.contains("gw-secret-token-1") && !err.contains("gw-secret-token-1"),
            "{verb:?}: {err}"
        );
        if verb[0] != "describe" {
            assert!(
                err.contains("Authorization: <redacted>")
                    && err.contains("cf-aig-authorization: <redacted>"),
                "{err}"
            );
        }
    }
}

#[test]
fn echoed_keys_are_scrubbed_from_stderr_and_the_debug_log_redacts_by_value() {
    let m = mock();
    // The key also travels in a header whose name does not look secret: redacted by value.
    let extra = format!(
        "headers = {{ \"x-mock-fault\" = \"status=401;echo_secrets\", \"X-Trace-Copy\" = \"{KEY}\" }}"
    );
    let path = config("echo", &profile(&m, &extra));
    let o = Command::new(env!("CARGO_BIN_EXE_aigw"))
        .args(["--config", path.to_str().unwrap(), "ask", "--message", "hi"])
        .env_remove("CLOUDFLARE_AI_GATEWAY_API_KEY")
        .env("CLOUDFLARE_API_KEY", KEY)
        .env("AIGW_LOG", "debug")
        .output()
        .expect("aigw runs");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("[redacted]"), "{err}");
    assert!(err.contains("X-Trace-Copy: <redacted>"), "{err}");
    no_key(&o);
}

#[test]
fn ask_prints_the_tool_calls_of_an_answer_without_text() {
    let m = mock();
    // The mock's `mock/<faults>` model: one tool call whose arguments stream in pieces.
    let cfg = config(
        "ask-tools",
        &profile(
            &m,
            "model = \"mock/tool_call=get_weather:%7B%22city%22%3A%22Paris%22%7D;chunks=4\"",
        ),
    );
    let o = aigw(&[
        "--config",
        cfg.to_str().unwrap(),
        "ask",
        "--message",
        "weather?",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, "tool call: get_weather({\"city\":\"Paris\"})\n");
}

#[test]
fn doctor_fails_when_the_probe_refuses_the_key_even_with_a_pinned_model() {
    let m = mock();
    let cfg = config(
        "doctor-401",
        &profile(
            &m,
            "model = \"openai/gpt-4o-mini\"\napi_key = \"a-refused-key-123\"",
        ),
    );
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "fail  model_probe  the models endpoint refused the credentials from provider.api_key"
        ),
        "{out}"
    );
    assert!(!out.contains("a-refused-key-123"), "{out}");
}

#[test]
fn doctor_warns_on_a_pinned_model_the_catalog_does_not_list() {
    let m = mock();
    let cfg = config(
        "doctor-unlisted",
        &profile(&m, "model = \"openai/gpt-4o-mni\""),
    );
    let o = aigw(&["--config", cfg.to_str().unwrap(), "doctor"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0), "a warning, not a failure: {out}");
    assert!(
        out.contains("warn  model_probe  3 model(s) listed; chat will use `openai/gpt-4o-mni`; `openai/gpt-4o-mni` is not in the catalog (closest: openai/gpt-4o-mini, openai/gpt-4o, workers-ai/@cf/meta/llama-3.1-8b-instruct): check provider.model"),
        "{out}"
    );
}

/// Runs `aigw` with stdout a pipe whose reader is already gone: the first write fails with EPIPE,
/// whatever the size of the output.
fn aigw_into_a_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_aigw"))
        .args(args)
        .env_remove("CLOUDFLARE_AI_GATEWAY_API_KEY")
        .env("CLOUDFLARE_API_KEY", KEY)
        .env_remove("AIGW_LOG")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("aigw runs")
}

fn no_panic(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: {err}"
    );
}

#[test]
fn providers_stops_quietly_when_the_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aigw"))
        .arg("providers")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aigw runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut first)
        .expect("one line");
    assert!(first.starts_with("KIND"), "{first}");
    // The reader is dropped here, with the rest of the table unread.
    let o = child.wait_with_output().expect("aigw ends");
    no_panic(&o, "providers | head -1");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn every_output_path_exits_quietly_on_a_closed_pipe() {
    let m = mock();
    let cfg = config(
        "closed-pipe",
        &profile(&m, "model = \"openai/gpt-4o-mini\""),
    );
    let cfg = cfg.to_str().unwrap();
    for args in [
        &["providers"][..],
        &["providers", "--json"][..],
        &["--help"][..],
        &["help", "ask"][..],
        &["--version"][..],
        &["completions", "bash"][..],
        &["--config", cfg, "describe"][..],
        &["--config", cfg, "validate-config"][..],
        &["--config", cfg, "doctor"][..],
        &["--config", cfg, "doctor", "--json"][..],
        &["--config", cfg, "list-models"][..],
        &["--config", cfg, "ask", "--message", "hi there"][..],
    ] {
        let o = aigw_into_a_closed_pipe(args);
        no_panic(&o, &format!("{args:?}"));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o).1);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error_not_a_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let o = Command::new(env!("CARGO_BIN_EXE_aigw"))
        .arg("providers")
        .stdout(full)
        .output()
        .expect("aigw runs");
    no_panic(&o, "providers > /dev/full");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .1
            .contains("error: cannot write to standard output"),
        "{}",
        text(&o).1
    );
}

#[test]
fn help_lists_every_command_and_the_global_options() {
    for args in [&["--help"][..], &["-h"][..], &["help"][..]] {
        let o = aigw(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let (out, _) = text(&o);
        for word in [
            "providers",
            "describe",
            "doctor",
            "list-models",
            "ask",
            "validate-config",
            "completions",
            "help",
            "--json",
            "--config <FILE>",
            "--provider <ID>",
            "--kind <KIND>",
            "--base-url <URL>",
            "--account-id <ID>",
            "--gateway-name <NAME>",
            "--model <MODEL>",
            "--api-key-env <NAME>",
            "Exit codes: 0 ok, 1 a check or request failed, 2 usage or config error",
        ] {
            assert!(out.contains(word), "{args:?}: {word}: {out}");
        }
    }
    let (out, _) = text(&aigw(&["ask", "--help"]));
    assert!(
        out.contains("--message <TEXT>") && out.contains("--verbose"),
        "{out}"
    );
}

#[test]
fn unknown_flags_and_commands_exit_2_with_a_suggestion() {
    for (args, tip) in [
        (
            &["providers", "--jsn"][..],
            "a similar argument exists: '--json'",
        ),
        (
            &["--acount-id", "x", "describe"][..],
            "a similar argument exists: '--account-id'",
        ),
        (&["doctr"][..], "a similar subcommand exists: 'doctor'"),
    ] {
        let o = aigw(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(tip), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    let o = aigw(&["ask", "--kind", "openai"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--message <TEXT>"), "{}", text(&o).1);
}

#[test]
fn options_work_before_or_after_the_command() {
    let m = mock();
    let cfg = config("anywhere", &profile(&m, "model = \"openai/gpt-4o-mini\""));
    let cfg = cfg.to_str().unwrap();
    // Global options after the command, command options before it, `--flag=value`, a message that
    // starts with a dash, and a repeated option (the last one wins).
    for args in [
        &["ask", "--config", cfg, "--message", "hi there"][..],
        &["--message", "hi there", "--config", cfg, "ask"][..],
        &["-m", "hi there", "ask", "--config", cfg][..],
        &[
            "ask",
            "--config=/nonexistent",
            "--config",
            cfg,
            "-m=hi there",
        ][..],
    ] {
        let o = aigw(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(out.trim_end(), "echo: hi there", "{args:?}");
    }
    let o = aigw(&["--config", cfg, "ask", "--message", "-5 degrees?"]);
    assert_eq!(text(&o).0.trim_end(), "echo: -5 degrees?", "{}", text(&o).1);
    let o = aigw(&["--verbose", "--config", cfg, "ask", "-m", "x"]);
    assert!(text(&o).1.contains("route: POST"), "{}", text(&o).1);
    for args in [&["--json", "providers"][..], &["providers", "--json"][..]] {
        let v: serde_json::Value = serde_json::from_slice(&aigw(args).stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 45, "{args:?}");
    }
    let o = aigw(&[
        "describe",
        "--kind",
        "cloudflare",
        "--account-id=0123456789abcdef0123456789abcdef",
        "--gateway-name",
        "prod-gw",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["route"]["gateway_name"], "prod-gw");
}

#[test]
fn completions_name_the_commands_and_options() {
    let o = aigw(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    assert!(
        out.contains("list-models") && out.contains("--account-id") && out.contains("_aigw"),
        "{out}"
    );
    assert_eq!(aigw(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn embed_prints_vectors_or_json_and_ask_verbose_prints_usage_and_cost() {
    let m = mock();
    let cfg = config(
        "embed",
        &profile(
            &m,
            "model = \"openai/gpt-4o-mini\"\nembedding_model = \"openai/text-embedding-3-small\"\nprices = { \"openai/gpt-4o-mini\" = { input_per_mtok = 1000000, output_per_mtok = 2000000 } }",
        ),
    );
    let o = aigw(&[
        "--config",
        cfg.to_str().unwrap(),
        "embed",
        "--input",
        "one two",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.starts_with("embedding 0: 8 dimensions ["), "{out}");
    assert!(
        err.contains("model: openai/text-embedding-3-small; usage: 2 in"),
        "{err}"
    );
    let o = aigw(&[
        "--config",
        cfg.to_str().unwrap(),
        "embed",
        "--input",
        "x",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert!(m.requests().last().unwrap().path.ends_with("/embeddings"));

    let o = aigw(&[
        "--config",
        cfg.to_str().unwrap(),
        "ask",
        "--message",
        "a b c",
        "--verbose",
    ]);
    let (out, err) = text(&o);
    assert_eq!(out.trim_end(), "echo: a b c");
    // 3 prompt words at $1 each, 4 answer words at $2 each.
    assert!(
        err.contains("usage: 3 in (? cached, ? cache write), 4 out (? reasoning), 7 total; cost: $11.000000 (profile)"),
        "{err}"
    );
}
