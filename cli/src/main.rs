//! `aigw`: the operator CLI (docs/contract.md §9). Verify a provider the way the seed page says: describe
//! the route, run doctor, list the models, ask one question.
//! Exit codes: 0 ok, 1 a check or request failed, 2 usage or config error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use aigw_core::{Client, ConfigFile, Error, ErrorCode, Profile, RequestOptions};
use serde_json::{json, Value};

const USAGE: &str = "\
aigw - route and verify LLM requests (Cloudflare AI Gateway first)

usage: aigw [global options] <command> [command options]

commands:
  providers [--json]        list the built-in provider kinds
  describe                  print the resolved route and credential source (no network)
  doctor [--json]           check config, credentials, route and the model catalog
  list-models [--json]      list the models of the catalog endpoint
  ask --message TEXT [--verbose]
                            stream one answer to stdout (--verbose: route and metadata on stderr)
  validate-config           check a config file or flags without any network call

global options:
  --config FILE             TOML or JSON config (active_provider + [providers.<id>])
  --provider ID             profile id in the config file
  --kind KIND               build the profile from flags instead (id or alias)
  --base-url URL  --account-id ID  --gateway-name NAME  --model MODEL  --api-key-env NAME
                            profile fields (also override the config file's)
  -h, --help                this text

exit codes: 0 ok, 1 a check or request failed, 2 usage or config error
";

struct Args {
    command: String,
    json: bool,
    verbose: bool,
    message: Option<String>,
    config: Option<PathBuf>,
    provider: Option<String>,
    kind: Option<String>,
    base_url: Option<String>,
    account_id: Option<String>,
    gateway_name: Option<String>,
    model: Option<String>,
    api_key_env: Option<String>,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        command: String::new(),
        json: false,
        verbose: false,
        message: None,
        config: None,
        provider: None,
        kind: None,
        base_url: None,
        account_id: None,
        gateway_name: None,
        model: None,
        api_key_env: None,
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => a.command = "help".into(),
            "--json" => a.json = true,
            "--verbose" | "-v" => a.verbose = true,
            "--message" | "-m" => a.message = Some(value(flag)?),
            "--config" => a.config = Some(PathBuf::from(value(flag)?)),
            "--provider" => a.provider = Some(value(flag)?),
            "--kind" => a.kind = Some(value(flag)?),
            "--base-url" => a.base_url = Some(value(flag)?),
            "--account-id" => a.account_id = Some(value(flag)?),
            "--gateway-name" => a.gateway_name = Some(value(flag)?),
            "--model" => a.model = Some(value(flag)?),
            "--api-key-env" => a.api_key_env = Some(value(flag)?),
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            cmd if a.command.is_empty() => a.command = cmd.to_string(),
            extra => return Err(format!("unexpected argument `{extra}`")),
        }
    }
    if a.command.is_empty() {
        return Err("no command given".into());
    }
    Ok(a)
}

/// The profile from `--config`/`--provider`, else from `--kind` and the other flags.
fn load_profile(a: &Args) -> Result<(String, Profile), Error> {
    let (id, mut profile) = match (&a.config, &a.kind) {
        (Some(path), _) => ConfigFile::load(path)?.select(a.provider.as_deref())?,
        (None, Some(kind)) => ("flags".to_string(), Profile::new(kind.clone())),
        (None, None) => {
            return Err(Error::config("no profile: pass --config FILE (and --provider ID), or --kind KIND with --base-url/--account-id/--gateway-name"))
        }
    };
    if let Some(kind) = &a.kind {
        profile.kind = kind.clone();
    }
    let set = |field: &mut Option<String>, v: &Option<String>| {
        if let Some(v) = v {
            *field = Some(v.clone());
        }
    };
    set(&mut profile.base_url, &a.base_url);
    set(&mut profile.account_id, &a.account_id);
    set(&mut profile.gateway_name, &a.gateway_name);
    set(&mut profile.model, &a.model);
    set(&mut profile.api_key_env, &a.api_key_env);
    Ok((id, profile))
}

fn print_error(e: &Error) {
    eprintln!("error: {}: {}", e.code, e.message);
    if let Some(status) = e.http_status {
        eprintln!("  http status: {status}");
    }
    if let Some(code) = &e.provider_code {
        eprintln!("  provider code: {code}");
    }
    if let Some(ms) = e.retry_after_ms {
        eprintln!("  retry after: {ms} ms");
    }
    if let Some(id) = &e.request_id {
        eprintln!("  request id: {id}");
    }
}

fn exit_for(e: &Error) -> ExitCode {
    match e.code {
        ErrorCode::Config | ErrorCode::InvalidArgument | ErrorCode::MissingCredentials => {
            ExitCode::from(2)
        }
        _ => ExitCode::from(1),
    }
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn providers(json_out: bool) -> ExitCode {
    if json_out {
        print_json(&aigw_core::providers_json());
        return ExitCode::SUCCESS;
    }
    let rows: Vec<[String; 6]> = aigw_core::providers()
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                k.group.clone().unwrap_or_else(|| "-".into()),
                k.protocol_family.as_str().to_string(),
                k.auth_scheme.as_str().to_string(),
                if k.aliases.is_empty() {
                    "-".into()
                } else {
                    k.aliases.join(",")
                },
                k.default_base_url.clone(),
            ]
        })
        .collect();
    let header = [
        "KIND",
        "GROUP",
        "PROTOCOL",
        "AUTH",
        "ALIASES",
        "DEFAULT BASE URL",
    ]
    .map(String::from);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    ExitCode::SUCCESS
}

fn route_line(client: &Client) -> String {
    let r = client.route();
    let creds = match client.credentials() {
        Ok(c) => c.source.label(),
        Err(_) => "missing".into(),
    };
    format!(
        "route: POST {} (account_id {}, gateway_name {}, credentials {creds})",
        r.request_endpoint,
        r.account_id.as_deref().unwrap_or("-"),
        r.gateway_name.as_deref().unwrap_or("-"),
    )
}

fn doctor(client: &Client, json_out: bool) -> ExitCode {
    let report = client.doctor();
    if json_out {
        print_json(&report);
    } else {
        for c in report["checks"].as_array().into_iter().flatten() {
            println!(
                "{:<5} {:<12} {}",
                c["status"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or(""),
                c["detail"].as_str().unwrap_or("")
            );
        }
        println!("doctor: {}", report["status"].as_str().unwrap_or("fail"));
    }
    if report["status"] == "fail" {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn list_models(client: &Client, json_out: bool) -> Result<(), Error> {
    let models = client.list_models()?;
    if json_out {
        print_json(&Value::Array(models));
    } else {
        for m in &models {
            let id = m["id"].as_str().unwrap_or("");
            match m.get("owned_by").and_then(Value::as_str) {
                Some(owner) => println!("{id}  ({owner})"),
                None => println!("{id}"),
            }
        }
        eprintln!("{} model(s)", models.len());
    }
    Ok(())
}

fn ask(client: &Client, message: &str, verbose: bool) -> Result<(), Error> {
    if verbose {
        eprintln!("{}", route_line(client));
    }
    let request = json!({ "messages": [{ "role": "user", "content": message }] });
    let mut stream = client.chat_stream(request, &RequestOptions::default())?;
    if verbose {
        let m = stream.meta();
        eprintln!(
            "model: {}  cf-aig-log-id: {}  attempts: {}",
            m["model"].as_str().unwrap_or("-"),
            m["cf_aig_log_id"].as_str().unwrap_or("-"),
            m["attempts"].as_array().map(Vec::len).unwrap_or(0)
        );
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut calls = ToolCalls::default();
    let mut wrote_text = false;
    while let Some(chunk) = stream.next_chunk()? {
        for choice in chunk.value["choices"].as_array().into_iter().flatten() {
            let text = choice["delta"]["content"]
                .as_str()
                .or_else(|| choice["message"]["content"].as_str());
            if let Some(text) = text {
                wrote_text |= !text.is_empty();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            for part in [
                &choice["delta"]["tool_calls"],
                &choice["message"]["tool_calls"],
            ] {
                for call in part.as_array().into_iter().flatten() {
                    calls.add(call);
                }
            }
        }
    }
    if wrote_text {
        let _ = writeln!(out);
    }
    for (name, arguments) in &calls.0 {
        let _ = writeln!(out, "tool call: {name}({arguments})");
    }
    if !wrote_text && calls.0.is_empty() {
        let _ = writeln!(out);
    }
    Ok(())
}

/// Tool calls put back together from stream deltas: the first delta of a call (by `index`)
/// carries its name, later ones append to its arguments.
#[derive(Default)]
struct ToolCalls(Vec<(String, String)>);

impl ToolCalls {
    fn add(&mut self, delta: &Value) {
        let index = delta["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(self.0.len());
        // Bounded by what the upstream sends; an index far past the end starts a new call.
        let slot = index.min(self.0.len());
        if slot == self.0.len() {
            self.0.push((String::new(), String::new()));
        }
        let (name, arguments) = &mut self.0[slot];
        if let Some(n) = delta["function"]["name"].as_str() {
            name.push_str(n);
        }
        if let Some(a) = delta["function"]["arguments"].as_str() {
            arguments.push_str(a);
        }
    }
}

fn run(a: &Args) -> Result<ExitCode, Error> {
    if a.command == "providers" {
        return Ok(providers(a.json));
    }
    let (id, profile) = load_profile(a)?;
    let client = Client::new(profile)?;
    match a.command.as_str() {
        "describe" => {
            print_json(&client.describe());
            Ok(ExitCode::SUCCESS)
        }
        "doctor" => Ok(doctor(&client, a.json)),
        "list-models" => list_models(&client, a.json).map(|_| ExitCode::SUCCESS),
        "ask" => {
            let message = a
                .message
                .as_deref()
                .ok_or_else(|| Error::invalid_argument("ask needs --message TEXT"))?;
            ask(&client, message, a.verbose).map(|_| ExitCode::SUCCESS)
        }
        "validate-config" => {
            client.route().ensure_resolved()?;
            println!(
                "ok: profile `{id}` (kind {}); {}",
                client.kind().id,
                route_line(&client)
            );
            if let Err(e) = client.credentials() {
                println!("note: {}", e.message);
            }
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Error::invalid_argument(format!(
            "unknown command `{other}`; run aigw --help"
        ))),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("error: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.command == "help" {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            exit_for(&e)
        }
    }
}
