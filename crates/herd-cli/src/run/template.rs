//! The command template: GNU parallel's replacement strings, and its way
//! of quoting an argument for the shell.

use std::fmt::Write as _;

/// Words, keywords and builtins of `/bin/sh` that a program of the same
/// name would not stand in for (dash's `echo` reads backslashes, `cd` and
/// `export` change the shell itself, and so on).
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "{", "}", "alias", "bg", "break", "case", "cd", "command", "continue",
    "do", "done", "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fc",
    "fg", "fi", "for", "function", "getopts", "hash", "if", "in", "jobs", "kill", "local",
    "printf", "pwd", "read", "readonly", "return", "select", "set", "shift", "test", "then",
    "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "until", "wait",
    "while",
];

/// The words of `line` when the shell would do nothing with it but split
/// it into words: only blanks, single-quoted strings and characters no
/// shell treats specially (letters, digits, `_./:=,+@%^-`), and a first
/// word that is neither an assignment nor one of the shell's own words.
/// Such a line can be run without a shell in front, saving an exec a job;
/// anything else (`$`, quotes other than single, redirections, globs,
/// `;`, `|`, `&`...) is `None` and goes to `/bin/sh -c`.
pub fn simple_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            c if c.is_ascii_alphanumeric() || "_./:=,+@%^-".contains(c) => {
                in_word = true;
                word.push(c);
            }
            _ => return None,
        }
    }
    if in_word {
        words.push(word);
    }
    let first = words.first()?;
    if first.is_empty() || first.contains('=') || SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}

/// GNU parallel's quoting (`shell_quote_scalar_default`): a string of only
/// `-_.+/`, ASCII letters and digits stays bare; anything else is put in
/// single quotes, each `'` written as `'"'"'`, and an empty string is `''`.
pub fn quote(arg: &str) -> String {
    if arg.is_empty() {
        return "''".to_owned();
    }
    let bare = arg
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.+/".contains(&b));
    if bare {
        return arg.to_owned();
    }
    let quoted = format!("'{}'", arg.replace('\'', "'\"'\"'"));
    let quoted = quoted.strip_prefix("''").unwrap_or(&quoted);
    quoted.strip_suffix("''").unwrap_or(quoted).to_owned()
}

/// Which part of an argument a replacement string takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// `{}`: the whole argument.
    All,
    /// `{.}`: without its extension.
    NoExt,
    /// `{/}`: the basename.
    Base,
    /// `{//}`: the directory.
    Dir,
    /// `{/.}`: the basename without its extension.
    BaseNoExt,
    /// `--plus`: `{..}` and `{...}`: without two or three extensions.
    NoExts(usize),
    /// `--plus`: `{/..}`, `{/...}`: the basename without two or three.
    BaseNoExts(usize),
    /// `--plus`: `{+/}`: the directory, empty if there is none.
    PlusDir,
    /// `--plus`: `{+.}`, `{+..}`, `{+...}`: the last one to three
    /// extensions, without the dot before them.
    Exts(usize),
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// An argument: which one (`None` for all of them, joined by spaces;
    /// `Some(n)` from 1, negative from the end) and which part.
    Arg(Option<i64>, Part),
    /// `{#}`: the job's sequence number.
    Seq,
    /// `{%}`: the job slot.
    Slot,
    /// `--plus`'s `{##}`: the number of jobs.
    Total,
}

/// A template's fixed lengths, for packing records into command lines.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// The command line's length with no record.
    pub base: usize,
    /// The spaces between records that the first record does not need.
    pub separators: usize,
}

/// A parsed command template.
#[derive(Clone, Debug)]
pub struct Template {
    pieces: Vec<Piece>,
    /// Whether it has any replacement string; if not, the arguments are
    /// appended.
    uses_args: bool,
    /// An empty command: each argument is itself the command.
    empty: bool,
    /// `{##}`: the number of jobs, once known.
    total: Option<u64>,
    /// `-X`: each word holding a replacement string is repeated once per
    /// record, and a record is this many arguments.
    context: Option<usize>,
}

/// The parts of `{...}` a modifier string names.
fn part(modifier: &str, plus: bool) -> Option<Part> {
    Some(match (modifier, plus) {
        ("", _) => Part::All,
        (".", _) => Part::NoExt,
        ("/", _) => Part::Base,
        ("//", _) => Part::Dir,
        ("/.", _) => Part::BaseNoExt,
        ("..", true) => Part::NoExts(2),
        ("...", true) => Part::NoExts(3),
        ("/..", true) => Part::BaseNoExts(2),
        ("/...", true) => Part::BaseNoExts(3),
        ("+/", true) => Part::PlusDir,
        ("+.", true) => Part::Exts(1),
        ("+..", true) => Part::Exts(2),
        ("+...", true) => Part::Exts(3),
        _ => return None,
    })
}

impl Template {
    /// Parses the command words (joined by spaces, as GNU joins them).
    /// `replace` is `-I`'s string, which stands for `{}`.
    pub fn parse(words: &[String], replace: Option<&str>) -> Template {
        Template::parse_named(words, replace, &[], false)
    }

    /// As [`parse`](Template::parse), with `--header :`'s column names,
    /// each usable as `{name}` (with the same modifiers) for its column.
    /// With `plus`, also `--plus`'s strings.
    pub fn parse_named(
        words: &[String],
        replace: Option<&str>,
        names: &[String],
        plus: bool,
    ) -> Template {
        let command = words.join(" ");
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = command.as_str();
        let mut uses_args = false;
        while !rest.is_empty() {
            if let Some(replace) = replace
                && let Some(after) = rest.strip_prefix(replace)
            {
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Arg(None, Part::All));
                uses_args = true;
                rest = after;
                continue;
            }
            if rest.starts_with('{')
                && let Some(end) = rest.find('}')
                && let Some(piece) = Template::piece(&rest[1..end], replace.is_none(), names, plus)
            {
                flush(&mut text, &mut pieces);
                // Any replacement string, {#} and {%} included, stops the
                // arguments being appended.
                uses_args = true;
                pieces.push(piece);
                rest = &rest[end + 1..];
                continue;
            }
            let c = rest.chars().next().expect("rest is not empty");
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
        flush(&mut text, &mut pieces);
        Template {
            pieces,
            uses_args,
            empty: command.trim().is_empty(),
            total: None,
            context: None,
        }
    }

    /// The piece `{inner}` stands for, if it is a replacement string.
    fn piece(inner: &str, default_strings: bool, names: &[String], plus: bool) -> Option<Piece> {
        match (inner, plus) {
            ("#", _) => return Some(Piece::Seq),
            ("%", _) => return Some(Piece::Slot),
            ("##", true) => return Some(Piece::Total),
            _ => {}
        }
        for (column, name) in names.iter().enumerate() {
            if let Some(modifier) = inner.strip_prefix(name.as_str())
                && let Some(part) = part(modifier, plus)
            {
                return Some(Piece::Arg(Some(column as i64 + 1), part));
            }
        }
        // Positional: {n} {-n} with a modifier.
        let digits_end = inner
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
            .map_or(inner.len(), |(i, _)| i);
        if digits_end > 0
            && let Ok(n) = inner[..digits_end].parse::<i64>()
            && n != 0
        {
            return part(&inner[digits_end..], plus).map(|part| Piece::Arg(Some(n), part));
        }
        if default_strings {
            return part(inner, plus).map(|part| Piece::Arg(None, part));
        }
        None
    }

    /// Whether it has a replacement string (else arguments are appended).
    pub fn uses_args(&self) -> bool {
        self.uses_args
    }

    /// Whether it needs the number of jobs (`{##}`), so all input must be
    /// read first.
    pub fn uses_total(&self) -> bool {
        self.pieces.contains(&Piece::Total)
    }

    /// Sets the number of jobs, for `{##}`.
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
    }

    /// The command line for one job: `args` quoted into the template.
    pub fn render(&self, args: &[String], seq: u64, slot: usize) -> String {
        self.render_with(args, seq, &slot.to_string(), true)
    }

    /// A tag (`--tag`, `--tagstring`): the arguments as they are, not
    /// quoted for a shell.
    pub fn render_tag(&self, args: &[String], seq: u64, slot: usize) -> String {
        self.render_with(args, seq, &slot.to_string(), false)
    }

    /// [`render`](Template::render) for a job that runs elsewhere, in a
    /// slot not known yet: `{%}` becomes [`SLOT_LATER`], which
    /// [`fill_slot`] replaces where the job runs.
    pub fn render_queued(&self, args: &[String], seq: u64) -> String {
        self.render_with(args, seq, SLOT_LATER, true)
    }

    /// [`render_tag`](Template::render_tag), with `{%}` left for
    /// [`fill_slot`].
    pub fn render_tag_queued(&self, args: &[String], seq: u64) -> String {
        self.render_with(args, seq, SLOT_LATER, false)
    }

    /// `-X`: each word (run of non-blank text) holding a replacement
    /// string is repeated once per record of `columns` arguments, as GNU's
    /// context replace does (`pre{}post` with a, b: `preapost prebpost`).
    pub fn set_context_replace(&mut self, columns: usize) {
        self.context = Some(columns.max(1));
    }

    /// How a command line grows with its records (`-m`, `-X`, `--xargs`):
    /// its fixed lengths, computed once for a run of packing.
    pub fn sizes(&self) -> Sizes {
        Sizes {
            base: self.render(&[], 1, 1).len(),
            separators: self.separators(),
        }
    }

    /// What one more record adds to the command line's length: with one
    /// record it is `base + growth - separators`, and each further record
    /// adds its `growth`.
    pub fn growth(&self, sizes: Sizes, record: &[String]) -> usize {
        self.render(record, 1, 1).len() - sizes.base + sizes.separators
    }

    /// The spaces between records that the first record does not need.
    fn separators(&self) -> usize {
        if !self.uses_args {
            return 0; // appended: each argument brings its own space
        }
        match self.context {
            Some(_) => self.words().iter().filter(|w| has_arg(w)).count(),
            None => self
                .pieces
                .iter()
                .filter(|p| matches!(p, Piece::Arg(None, _)))
                .count(),
        }
    }

    fn render_with(&self, args: &[String], seq: u64, slot: &str, quoted: bool) -> String {
        if self.empty {
            // Each argument is itself the command, as written.
            return args.join(" ");
        }
        let mut line = match self.context {
            Some(columns) if self.uses_args => {
                let mut line = String::new();
                for word in self.words() {
                    if has_arg(&word) {
                        let copies: Vec<String> = args
                            .chunks(columns)
                            .map(|record| self.render_pieces(&word, record, seq, slot, quoted))
                            .collect();
                        line.push_str(&copies.join(" "));
                    } else {
                        line.push_str(&self.render_pieces(&word, args, seq, slot, quoted));
                    }
                }
                line
            }
            _ => self.render_pieces(&self.pieces, args, seq, slot, quoted),
        };
        if !self.uses_args && quoted {
            for arg in args {
                line.push(' ');
                line.push_str(&quote(arg));
            }
        }
        line
    }

    /// The pieces split into words and the blanks between them (each
    /// blank run a word of its own text, which holds no argument).
    fn words(&self) -> Vec<Vec<Piece>> {
        let mut words: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut blank = false;
        for piece in &self.pieces {
            let Piece::Text(text) = piece else {
                if blank {
                    words.push(Vec::new());
                    blank = false;
                }
                words.last_mut().expect("never empty").push(piece.clone());
                continue;
            };
            for c in text.chars() {
                if c.is_whitespace() != blank {
                    words.push(Vec::new());
                    blank = c.is_whitespace();
                }
                let word = words.last_mut().expect("never empty");
                match word.last_mut() {
                    Some(Piece::Text(text)) => text.push(c),
                    _ => word.push(Piece::Text(c.to_string())),
                }
            }
        }
        words
    }

    fn render_pieces(
        &self,
        pieces: &[Piece],
        args: &[String],
        seq: u64,
        slot: &str,
        quoted: bool,
    ) -> String {
        let quote = |s: &str| if quoted { quote(s) } else { s.to_owned() };
        let mut line = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => line.push_str(text),
                Piece::Seq => write!(line, "{seq}").expect("writing to a String"),
                Piece::Slot => line.push_str(slot),
                Piece::Total => {
                    write!(line, "{}", self.total.unwrap_or(0)).expect("writing to a String")
                }
                Piece::Arg(None, part) => {
                    let parts: Vec<_> = args.iter().map(|a| quote(&apply(a, *part))).collect();
                    line.push_str(&parts.join(" "));
                }
                Piece::Arg(Some(n), part) => {
                    let index = if *n > 0 {
                        usize::try_from(*n - 1).ok()
                    } else {
                        args.len()
                            .checked_sub(usize::try_from(-*n).unwrap_or(usize::MAX))
                    };
                    let arg = index.and_then(|i| args.get(i)).map_or("", String::as_str);
                    line.push_str(&quote(&apply(arg, *part)));
                }
            }
        }
        line
    }
}

/// Where `{%}` goes in a job rendered for the queue: control characters
/// around a name, which no argument read from lines of text holds.
pub const SLOT_LATER: &str = "\u{1}herd-slot\u{1}";

/// `text` rendered by [`Template::render_queued`] with the slot it runs in.
pub fn fill_slot(text: &str, slot: usize) -> String {
    text.replace(SLOT_LATER, &slot.to_string())
}

fn has_arg(word: &[Piece]) -> bool {
    word.iter().any(|p| matches!(p, Piece::Arg(..)))
}

fn flush(text: &mut String, pieces: &mut Vec<Piece>) {
    if !text.is_empty() {
        pieces.push(Piece::Text(std::mem::take(text)));
    }
}

/// GNU's `{.}`, `{/}`, `{//}` and `{/.}` on one argument.
fn apply(arg: &str, part: Part) -> String {
    let base_start = arg.rfind('/').map_or(0, |i| i + 1);
    let no_ext = |s: &str| -> String {
        // GNU's `s:\.[^/.]*$::`: from the basename's last dot on, even a
        // leading one (so `.hidden` becomes empty, as in GNU parallel).
        let base_at = s.rfind('/').map_or(0, |i| i + 1);
        match s[base_at..].rfind('.') {
            Some(dot) => s[..base_at + dot].to_owned(),
            None => s.to_owned(),
        }
    };
    match part {
        Part::All => arg.to_owned(),
        Part::NoExt => no_ext(arg),
        Part::Base => arg[base_start..].to_owned(),
        Part::Dir => match arg.rfind('/') {
            Some(0) => "/".to_owned(),
            Some(i) => arg[..i].to_owned(),
            None => ".".to_owned(),
        },
        Part::BaseNoExt => no_ext(&arg[base_start..]),
        Part::NoExts(n) => strip_exts(arg, base_start, n).unwrap_or_else(|| arg.to_owned()),
        Part::BaseNoExts(n) => {
            let base = &arg[base_start..];
            strip_exts(base, 0, n).unwrap_or_else(|| base.to_owned())
        }
        Part::PlusDir => arg[..base_start.saturating_sub(1)].to_owned(),
        Part::Exts(n) => match strip_exts(arg, base_start, n) {
            Some(stem) => arg[stem.len() + 1..].to_owned(),
            None => String::new(),
        },
    }
}

/// `arg` without its last `n` extensions (each a `.` and what follows it
/// in the basename, which starts at `base_start`), if it has `n`.
fn strip_exts(arg: &str, base_start: usize, n: usize) -> Option<String> {
    let mut end = arg.len();
    for _ in 0..n {
        let dot = arg[base_start..end].rfind('.')?;
        end = base_start + dot;
    }
    Some(arg[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        vec![s.to_owned()]
    }

    #[test]
    fn quoting_matches_gnu() {
        assert_eq!(quote("a"), "a");
        assert_eq!(quote("a-b_c/d.e+f"), "a-b_c/d.e+f");
        assert_eq!(quote("b c"), "'b c'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote("'x"), "\"'\"'x'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("x$y"), "'x$y'");
        assert_eq!(quote("a,b"), "'a,b'");
    }

    #[test]
    fn a_queued_job_gets_its_slot_where_it_runs() {
        let t = Template::parse(&words("echo {%} {} {#}"), None);
        let queued = t.render_queued(&["a b".into()], 7);
        assert!(queued.contains(SLOT_LATER), "{queued:?}");
        assert_eq!(fill_slot(&queued, 3), "echo 3 'a b' 7");
        let tag = t.render_tag_queued(&["a b".into()], 7);
        assert_eq!(fill_slot(&tag, 2), "echo 2 a b 7");
        let plain = Template::parse(&words("echo {}"), None);
        assert_eq!(
            fill_slot(&plain.render_queued(&["x".into()], 1), 4),
            "echo x"
        );
    }

    #[test]
    fn replacement_strings_take_their_parts() {
        let t = Template::parse(&words("echo {} {.} {/} {//} {/.} {#} {%}"), None);
        assert_eq!(
            t.render(&["dir/sub/file.tar.gz".into()], 1, 1),
            "echo dir/sub/file.tar.gz dir/sub/file.tar file.tar.gz dir/sub file.tar 1 1"
        );
        let t = Template::parse(&words("echo {2} {1} {-1} {1/.}"), None);
        assert_eq!(
            t.render(&["/x/y.z".into(), "b".into()], 1, 1),
            "echo b /x/y.z b y"
        );
    }

    #[test]
    fn without_a_replacement_string_the_arguments_are_appended() {
        let t = Template::parse(&["echo".into(), "X".into()], None);
        assert_eq!(t.render(&["a b".into()], 1, 1), "echo X 'a b'");
        let t = Template::parse(&[], None);
        assert_eq!(t.render(&["echo hi".into()], 1, 1), "echo hi");
    }

    #[test]
    fn a_custom_replacement_string_stands_for_the_argument() {
        let t = Template::parse(&words("echo ,,-,, {}"), Some(",,"));
        assert_eq!(t.render(&["a".into()], 1, 1), "echo a-a {}");
    }

    #[test]
    fn only_lines_the_shell_would_just_split_run_without_it() {
        let split = |line: &str| simple_words(line);
        assert_eq!(
            split("sleep 0.05"),
            Some(vec!["sleep".into(), "0.05".into()])
        );
        assert_eq!(
            split("gzip -9 'a b.log'  x"),
            Some(vec![
                "gzip".into(),
                "-9".into(),
                "a b.log".into(),
                "x".into()
            ])
        );
        assert_eq!(
            split("wc -c ''"),
            Some(vec!["wc".into(), "-c".into(), String::new()])
        );
        for shell in [
            "echo a",
            "true",
            "cd /tmp",
            "A=1 env",
            "sleep 1; echo",
            "cat < in",
            "ls *.c",
            "echo $HOME",
            "grep \"a b\" f",
            "x 'it'\"'\"'s'",
            "a | b",
            "a && b",
            "run ~/x",
            "'unclosed",
            "",
            "  ",
            "f \\n",
        ] {
            assert_eq!(split(shell), None, "{shell}");
        }
    }

    #[test]
    fn context_replace_repeats_each_word_per_record() {
        let mut t = Template::parse(&words("echo pre{}post {.}.x  mid {#}"), None);
        t.set_context_replace(1);
        let args = vec!["a.c".to_owned(), "b c".to_owned()];
        assert_eq!(
            t.render(&args, 7, 1),
            "echo prea.cpost pre'b c'post a.x 'b c'.x  mid 7"
        );
    }

    #[test]
    fn line_length_grows_by_each_records_growth() {
        let records: Vec<Vec<String>> = [["a", "x y"], ["it's", "b.c"], ["$HOME", ""]]
            .iter()
            .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        for (command, context) in [
            ("echo", false),
            ("echo {} and {}", false),
            ("echo pre{}post {.}", false),
            ("echo pre{}post {.}.x tail", true),
            ("echo {1} x{2}y", true),
        ] {
            let mut t = Template::parse(&words(command), None);
            if context {
                t.set_context_replace(2);
            }
            for k in 1..=records.len() {
                let args = records[..k].concat();
                let sizes = t.sizes();
                let predicted = sizes.base
                    + records[..k]
                        .iter()
                        .map(|r| t.growth(sizes, r))
                        .sum::<usize>()
                    - sizes.separators;
                if command.contains("{1}") {
                    // Positional strings take one record's values whatever
                    // the count: the estimate may only be longer.
                    assert!(predicted >= t.render(&args, 1, 1).len(), "{command}");
                } else {
                    assert_eq!(predicted, t.render(&args, 1, 1).len(), "{command} x{k}");
                }
            }
        }
    }
}
