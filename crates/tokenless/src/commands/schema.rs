//! `tokenless schema`: the JSON Schema of tokenless.toml, for editors and review tools.

use std::process::ExitCode;

use crate::render;

/// Print the JSON Schema of tokenless.toml (every table, key and allowed value; unknown
/// keys are refused). Editors with TOML schema support (taplo, Even Better TOML) can use it.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Example:\n  tokenless schema > tokenless.schema.json")]
pub struct SchemaArgs {}

pub fn run(_args: SchemaArgs) -> anyhow::Result<ExitCode> {
    let mut text = serde_json::to_string_pretty(&tokenless_org::config::Config::schema())?;
    text.push('\n');
    render::write_all(&mut render::stdout(), &text)?;
    Ok(ExitCode::SUCCESS)
}
