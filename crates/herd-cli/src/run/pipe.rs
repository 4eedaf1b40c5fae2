//! `--pipe`: standard input cut into blocks of
//! whole records, each block the standard input of one job.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};

use super::RunArgs;
use super::input::{Source, Sources};
use super::template::Template;

/// GNU's default `--block`: 1 MiB.
const DEFAULT_BLOCK: usize = 1 << 20;

/// Blocks waiting for a free job slot: a few, so memory stays at about
/// (slots + this) blocks whatever the input's size.
const QUEUED_BLOCKS: usize = 2;

/// `--block SIZE`: bytes, with GNU's suffixes (K, M, G, T, P are powers of
/// 1024; k, m, g, t, p of 1000).
pub fn parse_block(size: &str) -> Result<usize, String> {
    let bad = || format!("--block {size}: expected a size such as 1M, 64k or 4096");
    let (number, unit) = match size.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => size.split_at(at),
        None => (size, ""),
    };
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024f64.powi(2),
        "G" => 1024f64.powi(3),
        "T" => 1024f64.powi(4),
        "P" => 1024f64.powi(5),
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return Err(bad()),
    };
    let bytes = number * scale;
    if !(1.0..=usize::MAX as f64).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as usize)
}

/// How the input is cut: records end with `recend` and start with
/// `recstart` (GNU's defaults: a newline, and nothing), and a block holds
/// `records` of them (`-N`) or as many whole ones as fit in `block` bytes.
/// A record longer than the block is never split: the block grows to it.
struct Blocks {
    reader: Box<dyn Read + Send>,
    buffer: Vec<u8>,
    ended: bool,
    block: usize,
    records: Option<usize>,
    recend: Vec<u8>,
    recstart: Vec<u8>,
}

impl Blocks {
    /// Whether a record ends at `at`: what comes before ends with
    /// `recend` and what follows starts with `recstart` (or the input
    /// ends there).
    fn boundary(&self, at: usize) -> bool {
        at > 0
            && self.buffer[..at].ends_with(&self.recend)
            && (self.buffer[at..].starts_with(&self.recstart)
                || (self.ended && at == self.buffer.len()))
            && (at < self.buffer.len() || self.ended)
    }

    /// Reads more into the buffer; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let want = self.block.clamp(64 * 1024, 4 << 20);
        let old = self.buffer.len();
        self.buffer.resize(old + want, 0);
        let n = loop {
            match self.reader.read(&mut self.buffer[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buffer.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buffer.truncate(old + n);
        if n == 0 {
            self.ended = true;
        }
        Ok(n > 0)
    }

    /// The end of the next block, once enough input is read to know it.
    fn cut(&mut self) -> io::Result<Option<usize>> {
        loop {
            let found = match self.records {
                Some(n) => {
                    let mut count = 0;
                    (1..=self.buffer.len()).find(|&at| {
                        count += usize::from(self.boundary(at));
                        count == n
                    })
                }
                None => {
                    // The last boundary within the block; failing that,
                    // the first one past it (a record is never split).
                    let within = self.buffer.len().min(self.block);
                    (1..=within)
                        .rev()
                        .find(|&at| self.boundary(at))
                        .or_else(|| (within + 1..=self.buffer.len()).find(|&at| self.boundary(at)))
                        // Only once past the block (by enough to see a
                        // record start) is a boundary at its very end
                        // known.
                        .filter(|_| {
                            self.ended
                                || self.buffer.len() >= self.block + self.recstart.len().max(1)
                        })
                }
            };
            if found.is_some() {
                return Ok(found);
            }
            if !self.fill()? {
                // The end: whatever is left is the last block.
                return Ok((!self.buffer.is_empty()).then_some(self.buffer.len()));
            }
        }
    }
}

impl Iterator for Blocks {
    type Item = io::Result<Bytes>;

    fn next(&mut self) -> Option<io::Result<Bytes>> {
        match self.cut() {
            Ok(Some(end)) => {
                let rest = self.buffer.split_off(end);
                let block = std::mem::replace(&mut self.buffer, rest);
                Some(Ok(Bytes::from(block)))
            }
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

/// A job item: its arguments and, with `--pipe`, its standard input.
pub type Job = (Vec<String>, Option<Bytes>);

/// `--pipe`'s jobs, one per block, and their template. `{}` stands for
/// an empty argument (it renders as `''`, as in GNU parallel); nothing is
/// appended to a command without it.
pub fn jobs(
    args: &RunArgs,
    sources: &Sources,
    command: &[String],
) -> Result<(BoxStream<'static, io::Result<Job>>, Template), String> {
    // GNU parallel's --pipe reads standard input only; it takes -a and
    // ::: values as arguments and then runs nothing. herd says so instead.
    if !matches!(sources.groups.as_slice(), [group] if group.as_slice() == [Source::File("-".into())])
    {
        return Err("--pipe reads standard input only: give the input as `< FILE`, not with -a, :::: or :::".into());
    }
    let reader: Box<dyn Read + Send> = Box::new(io::stdin());
    let block = match args.block.as_deref() {
        Some(size) => parse_block(size)?,
        None => DEFAULT_BLOCK,
    };
    let blocks = Blocks {
        reader,
        buffer: Vec::new(),
        ended: false,
        block,
        records: args.max_records.or(args.max_args).filter(|&n| n > 0),
        recend: args
            .recend
            .clone()
            .unwrap_or_else(|| "\n".into())
            .into_bytes(),
        recstart: args.recstart.clone().unwrap_or_default().into_bytes(),
    };
    let template = Template::parse(command, args.replace.as_deref());
    let job_args = if template.uses_args() {
        vec![String::new()]
    } else {
        Vec::new()
    };
    let rx = super::input::spawn_reader("herd-run-pipe", QUEUED_BLOCKS, blocks)
        .map_err(|e| format!("reading the input: {e}"))?;
    let jobs = rx
        .map(move |block| block.map(|block| (job_args.clone(), Some(block))))
        .boxed();
    Ok((jobs, template))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(
        input: &str,
        block: usize,
        records: Option<usize>,
        recend: &str,
        recstart: &str,
    ) -> Vec<String> {
        let blocks = Blocks {
            reader: Box::new(io::Cursor::new(input.as_bytes().to_vec())),
            buffer: Vec::new(),
            ended: false,
            block,
            records,
            recend: recend.as_bytes().to_vec(),
            recstart: recstart.as_bytes().to_vec(),
        };
        blocks
            .map(|b| String::from_utf8(b.unwrap().to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn blocks_hold_whole_records() {
        assert_eq!(cut("1\n2\n3\n4\n", 4, None, "\n", ""), ["1\n2\n", "3\n4\n"]);
        assert_eq!(cut("1\n2\n3\n4\n", 5, None, "\n", ""), ["1\n2\n", "3\n4\n"]);
        // A record longer than the block grows it; none is split.
        assert_eq!(
            cut("a\nbb\nccc\n", 3, None, "\n", ""),
            ["a\n", "bb\n", "ccc\n"]
        );
        // No final record end: the rest is the last block.
        assert_eq!(cut("1\n2", 100, None, "\n", ""), ["1\n2"]);
        assert_eq!(cut("", 100, None, "\n", ""), Vec::<String>::new());
    }

    #[test]
    fn records_per_block_and_record_markers() {
        assert_eq!(
            cut("1\n2\n3\n4\n5\n", 1 << 20, Some(2), "\n", ""),
            ["1\n2\n", "3\n4\n", "5\n"]
        );
        assert_eq!(cut("a,b,c,", 1 << 20, Some(1), ",", ""), ["a,", "b,", "c,"]);
        assert_eq!(
            cut(">x\n1\n>y\n2\n", 1 << 20, Some(1), "\n", ">"),
            [">x\n1\n", ">y\n2\n"]
        );
        assert_eq!(cut(">x>y>z", 1 << 20, Some(2), "", ">"), [">x>y", ">z"]);
    }

    #[test]
    fn block_sizes_take_gnus_suffixes() {
        assert_eq!(parse_block("1K"), Ok(1024));
        assert_eq!(parse_block("1k"), Ok(1000));
        assert_eq!(parse_block("2M"), Ok(2 << 20));
        assert_eq!(parse_block("1.5k"), Ok(1500));
        assert_eq!(parse_block("4096"), Ok(4096));
        assert!(parse_block("0").is_err());
        assert!(parse_block("1X").is_err());
    }
}
