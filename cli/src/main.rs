//! `aigw`: the operator CLI (docs/contract.md §9). Verify a provider the way the seed page says: describe
//! the route, run doctor, list the models, ask one question.
//! Exit codes: 0 ok, 1 a check or request failed, 2 usage or config error.
//!
//! Flags are parsed by clap (help, errors and suggestions are clap's; a usage error exits 2). Every
//! line of output goes through a `Write` handed down from `main`, never `println!`: a reader that goes
//! away (`aigw providers | head -1`) ends the run quietly with exit 0, and any other failure to write
//! standard output is an error (exit 1), not a panic.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use aigw_core::{Client, ConfigFile, Error, ErrorCode, Profile, RequestOptions};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use serde_json::{json, Value};

const AFTER_HELP: &str = "\
A profile comes from --config FILE (and --provider ID), or from --kind KIND and the profile
fields; the field flags also override the config file's. Options may come before or after the
command.

Exit codes: 0 ok, 1 a check or request failed, 2 usage or config error";

/// Route and verify LLM requests (Cloudflare AI Gateway first).
#[derive(Parser)]
#[command(name = "aigw", version, after_help = AFTER_HELP, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Print JSON (providers, doctor, list-models; describe always prints JSON)
    #[arg(long, global = true)]
    json: bool,

    #[command(flatten)]
    profile: ProfileArgs,

    // `ask --message`, also taken before the command as the hand-written parser did.
    #[arg(
        short = 'm',
        long = "message",
        value_name = "TEXT",
        allow_hyphen_values = true,
        hide = true
    )]
    message_before: Option<String>,

    // `ask --verbose`, also taken before the command.
    #[arg(short = 'v', long = "verbose", hide = true)]
    verbose_before: bool,
}

// Where the profile comes from, and the fields that override it; global, so accepted before or
// after the command.
#[derive(Args)]
#[command(next_help_heading = "Profile options")]
struct ProfileArgs {
    /// TOML or JSON config (active_provider + [providers.<id>])
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Profile id in the config file
    #[arg(long, global = true, value_name = "ID")]
    provider: Option<String>,
    /// Build the profile from flags instead (kind id or alias)
    #[arg(long, global = true, value_name = "KIND")]
    kind: Option<String>,
    /// Base URL of the provider or gateway route
    #[arg(long, global = true, value_name = "URL")]
    base_url: Option<String>,
    /// Cloudflare account id
    #[arg(long, global = true, value_name = "ID")]
    account_id: Option<String>,
    /// Cloudflare AI Gateway name
    #[arg(long, global = true, value_name = "NAME")]
    gateway_name: Option<String>,
    /// Model id
    #[arg(long, global = true, value_name = "MODEL")]
    model: Option<String>,
    /// Name of the environment variable that holds the API key
    #[arg(long, global = true, value_name = "NAME")]
    api_key_env: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in provider kinds
    Providers,
    /// Print the resolved route and credential source as JSON (no network)
    Describe,
    /// Check config, credentials, route and the model catalog
    Doctor,
    /// List the models of the catalog endpoint
    ListModels,
    /// Stream one answer to stdout
    #[command(override_usage = "aigw ask --message <TEXT> [OPTIONS]")]
    Ask(AskArgs),
    /// Create embeddings for one text (model: --model or the profile's embedding_model)
    Embed(EmbedArgs),
    /// Check a config file or flags without any network call
    ValidateConfig,
    /// Print a shell completion script
    ///
    /// For example: aigw completions bash > ~/.local/share/bash-completion/completions/aigw
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Args)]
struct AskArgs {
    /// The question (required)
    #[arg(short, long, value_name = "TEXT", allow_hyphen_values = true)]
    message: Option<String>,
    /// Print the route and response metadata on stderr
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Args)]
struct EmbedArgs {
    /// The text to embed
    #[arg(short, long, value_name = "TEXT", allow_hyphen_values = true)]
    input: String,
}

/// Why a run stopped before its end.
enum Failure {
    /// An aigw error: printed with its details, exit 1 or 2 by its code.
    Aigw(Error),
    /// Standard output could not be written: a closed pipe, a full disk.
    Output(io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Aigw(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// One line to stderr. A closed or failing stderr is ignored: diagnostics never panic.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr().lock(), $($arg)*);
    }};
}

/// The profile from `--config`/`--provider`, else from `--kind` and the other flags.
fn load_profile(a: &ProfileArgs) -> Result<(String, Profile), Error> {
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
    note!("error: {}: {}", e.code, e.message);
    if let Some(status) = e.http_status {
        note!("  http status: {status}");
    }
    if let Some(code) = &e.provider_code {
        note!("  provider code: {code}");
    }
    if let Some(ms) = e.retry_after_ms {
        note!("  retry after: {ms} ms");
    }
    if let Some(id) = &e.request_id {
        note!("  request id: {id}");
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

fn write_json(out: &mut impl Write, v: &Value) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_default()
    )
}

fn providers(out: &mut impl Write, json_out: bool) -> io::Result<()> {
    if json_out {
        return write_json(out, &aigw_core::providers_json());
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
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
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

fn doctor(out: &mut impl Write, client: &Client, json_out: bool) -> io::Result<ExitCode> {
    let report = client.doctor();
    if json_out {
        write_json(out, &report)?;
    } else {
        for c in report["checks"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "{:<5} {:<12} {}",
                c["status"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or(""),
                c["detail"].as_str().unwrap_or("")
            )?;
        }
        writeln!(
            out,
            "doctor: {}",
            report["status"].as_str().unwrap_or("fail")
        )?;
    }
    Ok(if report["status"] == "fail" {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn list_models(out: &mut impl Write, client: &Client, json_out: bool) -> Result<(), Failure> {
    let models = client.list_models()?;
    if json_out {
        write_json(out, &Value::Array(models))?;
    } else {
        for m in &models {
            let id = m["id"].as_str().unwrap_or("");
            match m.get("owned_by").and_then(Value::as_str) {
                Some(owner) => writeln!(out, "{id}  ({owner})")?,
                None => writeln!(out, "{id}")?,
            }
        }
        note!("{} model(s)", models.len());
    }
    Ok(())
}

fn ask(out: &mut impl Write, client: &Client, message: &str, verbose: bool) -> Result<(), Failure> {
    if verbose {
        note!("{}", route_line(client));
    }
    let request = json!({ "messages": [{ "role": "user", "content": message }] });
    let mut stream = client.chat_stream(request, &RequestOptions::default())?;
    if verbose {
        let m = stream.meta();
        note!(
            "model: {}  cf-aig-log-id: {}  attempts: {}",
            m["model"].as_str().unwrap_or("-"),
            m["cf_aig_log_id"].as_str().unwrap_or("-"),
            m["attempts"].as_array().map(Vec::len).unwrap_or(0)
        );
    }
    let mut calls = ToolCalls::default();
    let mut wrote_text = false;
    while let Some(chunk) = stream.next_chunk()? {
        for choice in chunk.value["choices"].as_array().into_iter().flatten() {
            let text = choice["delta"]["content"]
                .as_str()
                .or_else(|| choice["message"]["content"].as_str());
            if let Some(text) = text {
                wrote_text |= !text.is_empty();
                // A reader that went away ends the stream here: the `?` drops it, closing the
                // connection, and `main` exits quietly.
                out.write_all(text.as_bytes())?;
                out.flush()?;
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
    if verbose {
        note!("{}", usage_line(stream.meta()));
    }
    if wrote_text {
        writeln!(out)?;
    }
    for (name, arguments) in &calls.0 {
        writeln!(out, "tool call: {name}({arguments})")?;
    }
    if !wrote_text && calls.0.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// `usage: 12 in (3 cached), 40 out, 52 total; cost: $0.000021 (catalog)` from an answer's metadata.
fn usage_line(meta: &Value) -> String {
    let usage = &meta["usage"];
    let n = |field: &str| {
        usage[field]
            .as_u64()
            .map_or_else(|| "?".to_string(), |v| v.to_string())
    };
    let mut line = format!(
        "usage: {} in ({} cached, {} cache write), {} out ({} reasoning), {} total",
        n("input_tokens"),
        n("cached_input_tokens"),
        n("cache_write_tokens"),
        n("output_tokens"),
        n("reasoning_tokens"),
        n("total_tokens")
    );
    match (
        meta["cost"]["usd"].as_f64(),
        meta["cost"]["source"].as_str(),
    ) {
        (Some(usd), Some(source)) => line.push_str(&format!("; cost: ${usd:.6} ({source})")),
        _ => line.push_str("; cost: unknown (no price for this model)"),
    }
    line
}

/// Embeds one text: the JSON answer with `--json`, else a summary line per vector.
fn embed(
    out: &mut impl Write,
    client: &Client,
    input: &str,
    model: Option<&str>,
    json_out: bool,
) -> Result<(), Failure> {
    let mut request = json!({ "input": input });
    if let Some(model) = model {
        request["model"] = Value::String(model.to_string());
    }
    let answer = client.embeddings(request, &RequestOptions::default())?;
    if json_out {
        write_json(out, &answer)?;
        return Ok(());
    }
    for item in answer["data"].as_array().into_iter().flatten() {
        let vector = item["embedding"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let head: Vec<String> = vector.iter().take(4).map(Value::to_string).collect();
        writeln!(
            out,
            "embedding {}: {} dimensions [{}{}]",
            item["index"],
            vector.len(),
            head.join(", "),
            if vector.len() > 4 { ", …" } else { "" }
        )?;
    }
    note!(
        "model: {}; {}",
        answer["aigw"]["model"].as_str().unwrap_or("-"),
        usage_line(&answer["aigw"])
    );
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

fn run(cli: &Cli, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let client = || -> Result<(String, Client), Error> {
        let (id, profile) = load_profile(&cli.profile)?;
        Ok((id, Client::new(profile)?))
    };
    match &cli.command {
        Command::Providers => providers(out, cli.json)?,
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete's `generate` panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "aigw", &mut script);
            out.write_all(&script)?;
        }
        Command::Describe => write_json(out, &client()?.1.describe())?,
        Command::Doctor => return Ok(doctor(out, &client()?.1, cli.json)?),
        Command::ListModels => list_models(out, &client()?.1, cli.json)?,
        Command::Ask(a) => {
            // `parse` made sure of the message; this is only the type's other case.
            let message = a
                .message
                .as_deref()
                .ok_or_else(|| Error::invalid_argument("ask needs --message TEXT"))?;
            ask(out, &client()?.1, message, a.verbose)?;
        }
        Command::Embed(a) => {
            let model = cli.profile.model.as_deref();
            embed(out, &client()?.1, &a.input, model, cli.json)?
        }
        Command::ValidateConfig => {
            let (id, client) = client()?;
            client.route().ensure_resolved()?;
            writeln!(
                out,
                "ok: profile `{id}` (kind {}); {}",
                client.kind().id,
                route_line(&client)
            )?;
            if let Err(e) = client.credentials() {
                writeln!(out, "note: {}", e.message)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The command line, with `ask`'s options taken from before the command too, and `ask` without a
/// message reported like any other usage error.
fn parse() -> Result<Cli, clap::Error> {
    let mut cli = Cli::try_parse()?;
    if let Command::Ask(a) = &mut cli.command {
        if a.message.is_none() {
            a.message = cli.message_before.take();
        }
        a.verbose |= cli.verbose_before;
        if a.message.is_none() {
            let mut cmd = Cli::command();
            cmd.build();
            let msg = "the following required argument was not provided: --message <TEXT>";
            return Err(match cmd.find_subcommand_mut("ask") {
                Some(ask) => ask.error(ErrorKind::MissingRequiredArgument, msg),
                None => cmd.error(ErrorKind::MissingRequiredArgument, msg),
            });
        }
    }
    Ok(cli)
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version go to stdout (exit 0), usage errors to stderr (exit 2). A reader
            // that went away is ignored, as everywhere else; help that cannot be written is an error.
            return match e.print() {
                Err(w) if e.exit_code() == 0 && w.kind() != io::ErrorKind::BrokenPipe => {
                    note!("error: cannot write to standard output: {w}");
                    ExitCode::from(1)
                }
                _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
            };
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(&cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(Failure::Aigw(e)) => {
            print_error(&e);
            exit_for(&e)
        }
        // The reader went away (`aigw providers | head -1`): it has what it wanted.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            note!("error: cannot write to standard output: {e}");
            ExitCode::from(1)
        }
    }
}
