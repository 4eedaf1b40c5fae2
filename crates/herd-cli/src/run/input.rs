//! Input sources: `:::` lists, `::::` and `-a` files, standard input; how
//! several combine; and records split by a delimiter.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use futures_util::stream::{self, BoxStream, StreamExt};

/// Where one source's values come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `::: a b c`
    List(Vec<String>),
    /// `:::: FILE` or `-a FILE`; `-` is standard input.
    File(String),
}

/// The sources, in groups: each group's sources are linked (`:::+`,
/// `::::+`: the n-th values go together, cut to the shortest), and the
/// groups combine as every combination, the first group outermost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    pub groups: Vec<Vec<Source>>,
}

/// How records are read from a file.
#[derive(Clone, Debug)]
pub struct Records {
    pub delimiter: u8,
    /// `-E`: input ends at a record equal to this.
    pub eof: Option<String>,
    /// `-r`: empty records are skipped.
    pub skip_empty: bool,
}

/// The command words, and the sources after them.
pub fn split_command(words: &[String]) -> Result<(Vec<String>, Sources), String> {
    let is_marker = |w: &str| matches!(w, ":::" | ":::+" | "::::" | "::::+");
    let start = words
        .iter()
        .position(|w| is_marker(w))
        .unwrap_or(words.len());
    let command = words[..start].to_vec();
    let mut sources = Sources::default();
    let mut rest = &words[start..];
    while let Some((marker, tail)) = rest.split_first() {
        let end = tail.iter().position(|w| is_marker(w)).unwrap_or(tail.len());
        let values = tail[..end].to_vec();
        rest = &tail[end..];
        let linked = marker.ends_with('+');
        let new: Vec<Source> = if marker.starts_with("::::") {
            if values.is_empty() {
                return Err(format!("{marker} needs at least one file"));
            }
            values.into_iter().map(Source::File).collect()
        } else {
            vec![Source::List(values)]
        };
        for (i, source) in new.into_iter().enumerate() {
            match sources.groups.last_mut() {
                Some(group) if linked && i == 0 => group.push(source),
                _ => sources.groups.push(vec![source]),
            }
        }
    }
    Ok((command, sources))
}

/// Reads every record of `source`.
fn read_all(source: &Source, records: &Records) -> io::Result<Vec<String>> {
    match source {
        Source::List(values) => Ok(values.clone()),
        Source::File(path) => split(open(path)?, records).collect(),
    }
}

fn open(path: &str) -> io::Result<Box<dyn Read + Send>> {
    if path == "-" {
        return Ok(Box::new(io::stdin()));
    }
    File::open(path)
        .map(|file| Box::new(file) as Box<dyn Read + Send>)
        .map_err(|error| io::Error::new(error.kind(), format!("{path}: {error}")))
}

/// The records of a reader, lazily.
fn split(
    reader: Box<dyn Read + Send>,
    records: &Records,
) -> impl Iterator<Item = io::Result<String>> + use<> {
    let records = records.clone();
    let mut lines = BufReader::new(reader).split(records.delimiter);
    let mut ended = false;
    std::iter::from_fn(move || {
        loop {
            if ended {
                return None;
            }
            let record = match lines.next()? {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(error) => return Some(Err(error)),
            };
            // A carriage return stays part of the record, as in GNU
            // parallel.
            if records.eof.as_deref() == Some(record.as_str()) {
                ended = true;
                return None;
            }
            if records.skip_empty && record.trim().is_empty() {
                continue;
            }
            return Some(Ok(record));
        }
    })
}

/// Reads `items` on a thread of its own, as they are taken: a bounded
/// queue of `capacity` between the thread and the stream, so a slow consumer
/// holds the reader back instead of buffering the whole input, and a
/// stream dropped early stops the thread at its next item.
pub fn spawn_reader<T, I>(
    name: &str,
    capacity: usize,
    items: I,
) -> io::Result<herd::queue::Receiver<T>>
where
    T: Send + 'static,
    I: Iterator<Item = T> + Send + 'static,
{
    let (tx, rx) = herd::queue::bounded(capacity);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for item in items {
                if tx.send_blocking(item).is_err() {
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// The jobs' arguments, in GNU's order, and with `header`, each source's
/// first value (`--header :`: the names of its columns), taken out. One
/// file (or standard input) alone is streamed, so a million lines run in
/// bounded memory; otherwise every source is read first, since each
/// combination needs them all.
pub async fn jobs(
    sources: Sources,
    records: &Records,
    link_all: bool,
    header: bool,
) -> io::Result<(BoxStream<'static, io::Result<Vec<String>>>, Vec<String>)> {
    if let [group] = sources.groups.as_slice()
        && let [Source::File(path)] = group.as_slice()
    {
        let reader = open(path)?;
        let records = split(reader, records).map(|record| record.map(|r| vec![r]));
        let rx = spawn_reader("herd-run-input", 1024, records)?;
        let mut names = Vec::new();
        if header && let Ok(first) = rx.recv().await {
            names.extend(first?);
        }
        return Ok((rx.boxed(), names));
    }
    let mut values: Vec<Vec<Vec<String>>> = Vec::new();
    let mut names = Vec::new();
    for group in &sources.groups {
        let mut columns = Vec::new();
        for source in group {
            let mut column = read_all(source, records)?;
            if header && !column.is_empty() {
                names.push(column.remove(0));
            }
            columns.push(column);
        }
        values.push(columns);
    }
    let rows = if link_all {
        let columns: Vec<Vec<String>> = values.into_iter().flatten().collect();
        linked(&columns, true)
    } else {
        let groups: Vec<Vec<Vec<String>>> = values
            .iter()
            .map(|columns| linked(columns, false))
            .collect();
        product(&groups)
    };
    Ok((stream::iter(rows.into_iter().map(Ok)).boxed(), names))
}

/// The n-th values of each column together: cut to the shortest, or, with
/// `wrap`, as long as the longest with the shorter ones starting over.
fn linked(columns: &[Vec<String>], wrap: bool) -> Vec<Vec<String>> {
    let lengths = columns.iter().map(Vec::len);
    let rows = if wrap { lengths.max() } else { lengths.min() }.unwrap_or(0);
    if columns.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    (0..rows)
        .map(|row| columns.iter().map(|c| c[row % c.len()].clone()).collect())
        .collect()
}

/// Every combination of one row from each group, the first group
/// outermost.
fn product(groups: &[Vec<Vec<String>>]) -> Vec<Vec<String>> {
    let mut rows = vec![Vec::new()];
    for group in groups {
        let mut next = Vec::with_capacity(rows.len() * group.len());
        for row in &rows {
            for values in group {
                let mut combined: Vec<String> = row.clone();
                combined.extend(values.iter().cloned());
                next.push(combined);
            }
        }
        rows = next;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn sources_split_and_link() {
        let (command, sources) = split_command(&w("echo {} ::: a b :::+ 1 2 3 ::: x")).unwrap();
        assert_eq!(command, ["echo", "{}"]);
        assert_eq!(
            sources.groups,
            [
                vec![Source::List(w("a b")), Source::List(w("1 2 3"))],
                vec![Source::List(w("x"))]
            ]
        );
    }

    #[test]
    fn combinations_link_and_wrap_as_gnu_does() {
        let columns = [w("a b c"), w("1 2")];
        assert_eq!(linked(&columns, false), [w("a 1"), w("b 2")]);
        assert_eq!(linked(&columns, true), [w("a 1"), w("b 2"), w("c 1")]);
        let groups = [vec![w("a"), w("b")], vec![w("1"), w("2")]];
        assert_eq!(product(&groups), [w("a 1"), w("a 2"), w("b 1"), w("b 2")]);
    }
}
