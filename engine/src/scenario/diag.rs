//! Diagnostics for scenario files: every problem with file, line, column,
//! what was expected, and a hint; rendered with miette.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report};
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
    /// Byte offset and length of the offending text.
    pub offset: usize,
    pub len: usize,
}

/// All the problems found in one file.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    pub file: String,
    pub src: String,
    pub problems: Vec<Problem>,
}

impl Diagnostics {
    pub fn new(file: &str, src: &str) -> Diagnostics {
        Diagnostics { file: file.to_string(), src: src.to_string(), problems: Vec::new() }
    }

    pub fn push(&mut self, offset: usize, len: usize, message: impl Into<String>, hint: Option<String>) {
        self.problems.push(Problem { message: message.into(), hint, offset, len });
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.src[..offset.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// `file:line:col: error: message` then a source snippet with the hint.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
        for p in &self.problems {
            let (line, col) = self.line_col(p.offset);
            let _ = writeln!(out, "{}:{line}:{col}: error: {}", self.file, p.message);
            let mut d = MietteDiagnostic::new(p.message.clone())
                .with_label(LabeledSpan::at(p.offset..p.offset + p.len.max(1), "here"));
            if let Some(h) = &p.hint {
                d = d.with_help(h.clone());
            }
            let report = Report::new(d).with_source_code(NamedSource::new(&self.file, self.src.clone()));
            let _ = handler.render_report(&mut out, report.as_ref());
            out.push('\n');
        }
        let n = self.problems.len();
        let _ = writeln!(out, "{n} problem{} in {}", if n == 1 { "" } else { "s" }, self.file);
        out
    }
}

/// Finds where the scenario mentions `path` (e.g. `["containers", "api", "app-nett"]`):
/// each element is searched as a quoted string after the previous one.
pub fn locate(src: &str, path: &[&str]) -> (usize, usize) {
    let mut at = 0usize;
    let mut found = (0usize, 1usize);
    for seg in path {
        let quoted = format!("\"{seg}\"");
        let hit = src[at..]
            .find(&quoted)
            .map(|i| (at + i, quoted.len()))
            .or_else(|| src[at..].find(seg).map(|i| (at + i, seg.len())));
        match hit {
            Some((i, len)) => {
                found = (i, len);
                at = i + len;
            }
            None => break,
        }
    }
    found
}

/// Byte offset of a 1-based (line, column) position; when it sits just past
/// a string literal, moves back to that literal's opening quote.
pub fn offset_of(src: &str, line: usize, col: usize) -> (usize, usize) {
    let mut off = 0usize;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let c = l.char_indices().nth(col.saturating_sub(1)).map_or(l.len(), |(b, _)| b);
            off += c;
            break;
        }
        off += l.len();
    }
    let off = off.min(src.len());
    let before = &src[..off];
    if before.ends_with('"') && before.len() >= 2 {
        if let Some(open) = before[..before.len() - 1].rfind('"') {
            return (open, off - open);
        }
    }
    (off, 1)
}

/// The closest of `options` to `word`, if close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, options: impl Iterator<Item = &'a str>) -> Option<String> {
    options
        .map(|o| (edit_distance(word, o), o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min()
        .map(|(_, o)| format!("did you mean `{o}`?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_walks_the_path() {
        let src = "containers: {\n \"db\": (networks: [\"x\"]),\n \"api\": (networks: [\"x\"]),\n}";
        let (off, len) = locate(src, &["containers", "api", "x"]);
        let d = Diagnostics::new("f.ron", src);
        assert_eq!(d.line_col(off), (3, 21));
        assert_eq!(len, 3);
    }

    #[test]
    fn offset_backs_up_to_string_start() {
        let src = "a: (\n  until: \"5 parsecs\",\n)";
        let (off, len) = offset_of(src, 2, 21);
        assert_eq!(&src[off..off + len], "\"5 parsecs\"");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("app-nett", ["app-net", "db-net"].into_iter()), Some("did you mean `app-net`?".into()));
        assert_eq!(did_you_mean("zzz", ["app-net"].into_iter()), None);
    }
}
