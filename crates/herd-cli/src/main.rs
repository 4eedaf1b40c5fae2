//! `herd`: run many jobs at once, bounded, rate-limited and cancellable.
//!
//! `herd run` takes GNU parallel's command line: paste a `parallel` command,
//! replace `parallel` with `herd run`, and get the same output and exit
//! status (for the options it supports; the others are refused by name).

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
    Run(run::RunArgs),
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
            // usage error, with GNU parallel's status.
            let code = if error.use_stderr() { run::USAGE } else { 0 };
            let _ = error.print();
            std::process::exit(code);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the tokio runtime");
    let code = match cli.command {
        Command::Run(args) => runtime.block_on(run::run(args)),
    };
    std::process::exit(code);
}
