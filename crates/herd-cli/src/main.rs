//! `herd`: run many jobs at once, bounded, rate-limited and cancellable.
//!
//! `herd run` takes GNU parallel's command line: paste a `parallel` command,
//! replace `parallel` with `herd run`, and get the same output and exit
//! status (for the options it supports; the others are refused by name).
//! `herd fetch` fetches many URLs at once, bounded, rate-limited and
//! retried, with a line of account for every URL.

mod fetch;
mod run;

use clap::{Parser, Subcommand};

/// Run many jobs at once: bounded, rate-limited, cancellable.
#[derive(Parser, Debug)]
#[command(name = "herd", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a command for each input, many at once (GNU parallel's command
    /// line).
    Run(Box<run::RunArgs>),
    /// Fetch many URLs at once: bounded, rate-limited, retried, every URL
    /// accounted for.
    Fetch(Box<fetch::FetchArgs>),
    /// Run the jobs `herd run --queue` put on a PostgreSQL queue, here and
    /// on as many machines as you start it on.
    Worker(Box<run::queue::WorkerArgs>),
    /// Print shell completions for herd (bash, zsh, fish, elvish,
    /// powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): herd's, or with `run` or `fetch`, that
    /// subcommand's.
    Man {
        /// The subcommand whose page to print.
        subcommand: Option<String>,
    },
}

/// Writes `bytes` to standard output; a closed pipe ends quietly.
fn print(bytes: &[u8]) -> i32 {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(bytes);
    0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("run")
        && let Err(message) = run::refuse_unsupported(&args[2..])
    {
        eprintln!("herd run: {message}");
        std::process::exit(run::USAGE);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors; everything else is a
            // usage error: GNU parallel's status for `run`, 2 otherwise.
            let usage = match args.get(1).map(String::as_str) {
                Some("fetch") => fetch::USAGE,
                _ => run::USAGE,
            };
            let code = if error.use_stderr() { usage } else { 0 };
            let _ = error.print();
            std::process::exit(code);
        }
    };
    let code = match cli.command {
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("starting the tokio runtime")
            .block_on(run::run(*args)),
        Command::Worker(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("starting the tokio runtime")
            .block_on(run::queue::worker(*args)),
        Command::Fetch(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("starting the tokio runtime")
            .block_on(fetch::fetch(*args)),
        // Both are made from the same definitions as the options and their
        // help, into memory first: a reader that stops early (`| head`) is
        // not an error.
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "herd", &mut script);
            print(&script)
        }
        Command::Man { subcommand } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            if let Some(name) = subcommand {
                let page_name = match name.as_str() {
                    "run" => "herd-run",
                    "fetch" => "herd-fetch",
                    "worker" => "herd-worker",
                    _ => {
                        eprintln!(
                            "herd man: no page for {name}; try `herd man run`, `herd man fetch` or `herd man worker`"
                        );
                        std::process::exit(run::USAGE);
                    }
                };
                let sub = command
                    .find_subcommand(&name)
                    .cloned()
                    .expect("run, fetch and worker are subcommands");
                command = sub.name(page_name);
            }
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .expect("rendering into memory");
            print(&page)
        }
    };
    std::process::exit(code);
}
