//! The command line: what people type, parsed by clap, with kubectl's flag names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Show a Kubernetes object together with everything it owns, as the
/// primary-all API server finds it: one request, filtered by what you may read.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-primary_all",
    bin_name = "kubectl primary-all",
    version,
    propagate_version = true,
    after_help = "Examples:\n  \
        kubectl primary-all get database/db-1 -n demo\n  \
        kubectl primary-all get statefulset.apps db-1 -o wide\n  \
        kubectl primary-all owners pod/db-1-0\n  \
        kubectl primary-all toplevel -n demo"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How to reach the cluster.
    #[command(flatten)]
    pub connection: Connection,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an object and everything it owns, as a tree.
    ///
    /// TYPE is what you would give kubectl: `database`, `databases`,
    /// `databases.example.com` or `statefulset.apps`. The server looks it up.
    Get(GetArgs),
    /// Show the chain of owners above an object, up to the top-level one.
    Owners(OwnersArgs),
    /// List the objects in a namespace that nothing owns, with how many
    /// objects each one has below it and how they are doing.
    #[command(name = "toplevel", visible_alias = "top-level")]
    TopLevel(TopLevelArgs),
}

/// Arguments of `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The object, as TYPE/NAME or as TYPE followed by NAME.
    #[command(flatten)]
    pub object: ObjectArg,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = GetOutput::Tree)]
    pub output: GetOutput,
    /// How many levels of ownership to follow below the object (1 shows only
    /// what it owns directly; 3 reaches Database → StatefulSet → Pod).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub depth: u32,
    /// After showing the object, keep watching it and show it again whenever
    /// it or anything below it changes. Stop with Ctrl-C.
    #[arg(short, long)]
    pub watch: bool,
}

/// Arguments of `owners`.
#[derive(Debug, Args)]
pub struct OwnersArgs {
    /// The object, as TYPE/NAME or as TYPE followed by NAME.
    #[command(flatten)]
    pub object: ObjectArg,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OwnersOutput::Tree)]
    pub output: OwnersOutput,
}

/// Arguments of `toplevel`.
#[derive(Debug, Args)]
pub struct TopLevelArgs {
    /// Output format; a table when not given.
    #[arg(short, long, value_enum)]
    pub output: Option<TableOutput>,
}

/// An object named on the command line, as kubectl accepts it.
#[derive(Debug, Args)]
pub struct ObjectArg {
    /// TYPE/NAME (`database/db-1`), or TYPE when NAME follows.
    #[arg(value_name = "TYPE[/NAME]")]
    pub type_or_object: String,
    /// NAME, when the first argument is only TYPE.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

impl ObjectArg {
    /// Splits the arguments into (type, name), as kubectl does.
    ///
    /// # Errors
    ///
    /// kubectl's messages when the name is missing, given twice, or empty.
    pub fn type_and_name(&self) -> Result<(&str, &str), String> {
        let (kind, name) = match (self.type_or_object.split_once('/'), &self.name) {
            (Some(_), Some(_)) => {
                return Err("there is no need to specify a resource type as a separate \
                     argument when passing arguments in resource/name form (e.g. \
                     'kubectl primary-all get database/db-1' instead of \
                     'kubectl primary-all get database database/db-1')"
                    .to_string());
            }
            (Some((kind, name)), None) => (kind, name),
            (None, Some(name)) => (self.type_or_object.as_str(), name.as_str()),
            (None, None) => {
                return Err(format!(
                    "you must specify the name of the {0}: TYPE/NAME or TYPE NAME \
                     (e.g. '{0}/my-name')",
                    self.type_or_object
                ));
            }
        };
        if kind.is_empty() || name.is_empty() || name.contains('/') {
            return Err(format!(
                "arguments in resource/name form must have a single resource and name, \
                 not {:?}",
                self.type_or_object
            ));
        }
        Ok((kind, name))
    }
}

/// Which cluster, which user, which namespace: kubectl's global flags.
#[derive(Debug, Args)]
pub struct Connection {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's namespace, else `default`).
    #[arg(short, long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Username to impersonate for the operation.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation; repeat for several groups.
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The object and what it owns, one line each, nested.
    Tree,
    /// The tree with namespace and age columns.
    Wide,
    /// The server's answer as JSON.
    Json,
    /// The server's answer as YAML.
    Yaml,
}

/// Output formats of `owners`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OwnersOutput {
    /// The chain from the top-level owner down to the object.
    Tree,
    /// The server's answer as JSON.
    Json,
    /// The server's answer as YAML.
    Yaml,
}

/// Output formats of `toplevel` besides the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableOutput {
    /// The table with a REASON/PATH column.
    Wide,
    /// The server's answer as JSON.
    Json,
    /// The server's answer as YAML.
    Yaml,
}

/// `--color`, as in git, cargo and ls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether stdout is a terminal and the
    /// value of `NO_COLOR` (<https://no-color.org>: set and not empty means no).
    pub fn enabled(self, stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => stdout_is_terminal && no_color.is_none_or(|v| v.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(args: &[&str]) -> ObjectArg {
        let cli = Cli::try_parse_from(["kubectl-primary_all", "owners"].iter().chain(args))
            .expect("parses");
        match cli.command {
            Command::Owners(owners) => owners.object,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clap_is_configured_consistently() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn type_and_name_come_as_kubectl_takes_them() {
        assert_eq!(
            object(&["database/db-1"]).type_and_name(),
            Ok(("database", "db-1"))
        );
        assert_eq!(
            object(&["statefulset.apps", "db-1"]).type_and_name(),
            Ok(("statefulset.apps", "db-1"))
        );
        assert!(object(&["database"]).type_and_name().is_err());
        assert!(object(&["database/db-1", "db-2"]).type_and_name().is_err());
        assert!(object(&["database/"]).type_and_name().is_err());
        assert!(object(&["a/b/c"]).type_and_name().is_err());
    }

    #[test]
    fn global_flags_go_after_the_subcommand_too() {
        let cli = Cli::try_parse_from([
            "kubectl-primary_all",
            "get",
            "database/db-1",
            "-n",
            "demo",
            "--as",
            "ann",
            "--as-group",
            "devs",
        ])
        .expect("parses");
        assert_eq!(cli.connection.namespace.as_deref(), Some("demo"));
        assert_eq!(cli.connection.as_user.as_deref(), Some("ann"));
        assert_eq!(cli.connection.as_group, vec!["devs"]);
    }

    #[test]
    fn depth_is_bounded() {
        for depth in ["0", "11"] {
            let err = Cli::try_parse_from(["kubectl-primary_all", "get", "a/b", "--depth", depth])
                .unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        }
    }

    #[test]
    fn colour_follows_the_terminal_and_no_color() {
        use std::ffi::OsStr;
        assert!(ColorChoice::Auto.enabled(true, None));
        assert!(!ColorChoice::Auto.enabled(false, None));
        assert!(!ColorChoice::Auto.enabled(true, Some(OsStr::new("1"))));
        assert!(ColorChoice::Auto.enabled(true, Some(OsStr::new(""))));
        assert!(ColorChoice::Always.enabled(false, Some(OsStr::new("1"))));
        assert!(!ColorChoice::Never.enabled(true, None));
    }
}
