//! `kubectl primary-all`: a Kubernetes object and everything it owns, in one
//! request to primary-all's aggregated API, filtered by what you may read.
//!
//! # Overview
//!
//! Put `kubectl-primary_all` on `PATH`, and kubectl runs it for
//! `kubectl primary-all …`:
//!
//! ```console
//! $ kubectl primary-all get database/db-1 -n demo
//! $ kubectl primary-all owners pod/db-1-0 -n demo
//! $ kubectl primary-all toplevel -n demo
//! ```
//!
//! It reads the kubeconfig as kubectl does and talks only to
//! `/apis/primary-all/v1/…` through kube-apiserver. Errors are printed as
//! kubectl prints them, on stderr, with exit code 1.

mod api;
mod cli;
mod output;
mod progress;
mod render;
mod watch;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use primary_all::wire::{OwnerChain, PrimaryWithSecondaries, TopLevelList};

use crate::api::Api;
use crate::cli::{Cli, Command, GetOutput, OwnersOutput, TableOutput};
use crate::output::Format;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // `kubectl primary-all get … | head` closes the pipe early: not an error.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            // The messages carry kubectl's prefixes ("Error from server
            // (…)", "error: …") themselves; only Display is printed, never
            // Debug.
            let text = err.to_string();
            if err.downcast_ref::<api::Error>().is_some() || text.starts_with("error: ") {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let color = cli.color.enabled(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    match cli.command {
        Command::Get(args) => {
            let (kind, name) = args.object.type_and_name().map_err(anyhow::Error::msg)?;
            let format = match args.output {
                GetOutput::Tree => Format::Human { color, wide: false },
                GetOutput::Wide => Format::Human { color, wide: true },
                GetOutput::Json => Format::Json,
                GetOutput::Yaml => Format::Yaml,
            };
            let api = Api::connect(&cli.connection).await?;
            let query = format!("view=tree&depth={}", args.depth);
            if args.watch {
                let terminal = std::io::stdout().is_terminal();
                return watch::run(&api, kind, name, &query, format, terminal).await;
            }
            let text =
                progress::while_waiting(&format!("{kind}/{name}"), api.primary(kind, name, &query))
                    .await?;
            print(&output::format_text::<PrimaryWithSecondaries>(
                &text, format,
            )?)
        }
        Command::Owners(args) => {
            let (kind, name) = args.object.type_and_name().map_err(anyhow::Error::msg)?;
            let format = match args.output {
                OwnersOutput::Tree => Format::Human { color, wide: false },
                OwnersOutput::Json => Format::Json,
                OwnersOutput::Yaml => Format::Yaml,
            };
            let api = Api::connect(&cli.connection).await?;
            let text = progress::while_waiting(
                &format!("the owners of {kind}/{name}"),
                api.owners(kind, name),
            )
            .await?;
            print(&output::format_text::<OwnerChain>(&text, format)?)
        }
        Command::TopLevel(args) => {
            let format = match args.output {
                None => Format::Human { color, wide: false },
                Some(TableOutput::Wide) => Format::Human { color, wide: true },
                Some(TableOutput::Json) => Format::Json,
                Some(TableOutput::Yaml) => Format::Yaml,
            };
            let api = Api::connect(&cli.connection).await?;
            let text = progress::while_waiting(
                &format!("the top-level objects of namespace {}", api.namespace()),
                api.top_level(),
            )
            .await?;
            print(&output::format_text::<TopLevelList>(&text, format)?)
        }
    }
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
