//! Query fingerprints made the way pt-query-digest 3 makes them
//! (`QueryRewriter::fingerprint`), rule by rule, so a team's fingerprints
//! and their order carry over. Each rule is one pass over the bytes that
//! does what the Perl substitution does, quirks included (a `#` inside a
//! string starts a comment there too); the test against pt-query-digest
//! itself (`tests/digest_pt.rs` in tejun-cli) keeps them honest.

/// How numbers inside identifiers are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddedNumbers {
    /// `db1.table2` stays `db1.table2` (pt-query-digest
    /// `--preserve-embedded-numbers`).
    #[default]
    Keep,
    /// `db1.table2` becomes `d?table?` (pt-query-digest's default: its
    /// documentation says `db?.table?`, its code does this).
    Replace,
}

/// The fingerprint of one statement.
pub fn fingerprint(query: &str, numbers: EmbeddedNumbers) -> String {
    let mut fp = Fingerprinter::default();
    fp.fingerprint(query, numbers).to_string()
}

/// Reusable buffers: fingerprinting a few million statements should not
/// allocate a dozen times each.
#[derive(Default)]
pub struct Fingerprinter {
    a: Vec<u8>,
    b: Vec<u8>,
    out: String,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Perl's `\s` (space, \t, \n, \x0B, \f, \r).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `\b` before position `i` of `s`.
fn boundary(s: &[u8], i: usize) -> bool {
    let before = i > 0 && is_word(s[i - 1]);
    let after = i < s.len() && is_word(s[i]);
    before != after
}

fn starts_with_ci(s: &[u8], at: usize, word: &[u8]) -> bool {
    s.len() >= at + word.len() && s[at..at + word.len()].eq_ignore_ascii_case(word)
}

fn find(s: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > s.len() {
        return None;
    }
    s[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl Fingerprinter {
    /// The fingerprint of `query`, borrowed until the next call.
    pub fn fingerprint(&mut self, query: &str, numbers: EmbeddedNumbers) -> &str {
        self.out.clear();
        if let Some(special) = special_case(query) {
            self.out.push_str(&special);
            return &self.out;
        }
        let mut a = std::mem::take(&mut self.a);
        let mut b = std::mem::take(&mut self.b);
        a.clear();
        a.extend_from_slice(shorten_multi_insert(query.as_bytes()));
        // A rule runs only when its text can be there: most statements
        // have no comment, union or order by, and each pass copies.
        let mut run = |step: &dyn Fn(&[u8], &mut Vec<u8>), a: &mut Vec<u8>| {
            b.clear();
            step(a, &mut b);
            std::mem::swap(a, &mut b);
        };
        let has = |a: &[u8], needle: &[u8]| memchr::memmem::find(a, needle).is_some();
        if has(&a, b"/*") {
            run(&strip_block_comments, &mut a);
        }
        if memchr::memchr2(b'#', b'-', &a).is_some() {
            run(&strip_line_comments, &mut a);
        }
        if let Some(use_db) = abstract_use(&a) {
            self.out.push_str(use_db);
        } else {
            if memchr::memchr(b'\\', &a).is_some() {
                run(&drop_escaped_quotes, &mut a);
            }
            for quote in [b'"', b'\''] {
                if memchr::memchr(quote, &a).is_some() {
                    run(&|s, o| replace_quoted(s, o, quote), &mut a);
                }
            }
            run(&replace_booleans, &mut a);
            match numbers {
                EmbeddedNumbers::Keep => run(&replace_numbers_at_boundary, &mut a),
                EmbeddedNumbers::Replace => run(&replace_numbers, &mut a),
            }
            run(&clean_number_leftovers, &mut a);
            run(&collapse_whitespace_lowercase, &mut a);
            if has(&a, b"null") {
                run(&replace_nulls, &mut a);
            }
            if memchr::memchr(b'(', &a).is_some() {
                run(&collapse_lists, &mut a);
            }
            if has(&a, b"union") {
                run(&collapse_unions, &mut a);
            }
            if has(&a, b"limit ?") {
                run(&collapse_limit, &mut a);
            }
            if has(&a, b"order by ") {
                drop_order_by_asc(&mut a);
            }
            match std::str::from_utf8(&a) {
                Ok(text) => self.out.push_str(text),
                Err(_) => self.out.push_str(&String::from_utf8_lossy(&a)),
            }
        }
        self.a = a;
        self.b = b;
        &self.out
    }
}

/// mysqldump, pt-table-checksum, administrator commands and `CALL`, which
/// pt-query-digest answers before any rewriting.
fn special_case(query: &str) -> Option<String> {
    if query.starts_with("SELECT /*!40001 SQL_NO_CACHE */ * FROM `") {
        return Some("mysqldump".into());
    }
    if is_toolkit_checksum(query.as_bytes()) {
        return Some("percona-toolkit".into());
    }
    if query.starts_with("administrator command: ") {
        return Some(query.to_string());
    }
    call_name(query.as_bytes()).map(|c| String::from_utf8_lossy(c).to_ascii_lowercase())
}

/// `/\*\w+\.\w+:[0-9]/[0-9]\*/` anywhere.
fn is_toolkit_checksum(s: &[u8]) -> bool {
    let mut from = 0;
    while let Some(start) = find(s, from, b"/*") {
        from = start + 1;
        let mut i = start + 2;
        let words = |i: &mut usize| {
            let begin = *i;
            while *i < s.len() && is_word(s[*i]) {
                *i += 1;
            }
            *i > begin
        };
        if !words(&mut i) || s.get(i) != Some(&b'.') {
            continue;
        }
        i += 1;
        // `\w+:` backtracks over a word that contains no colon: the run
        // must simply be followed by one.
        if !words(&mut i) {
            continue;
        }
        let rest = &s[i..];
        if rest.len() >= 6
            && rest[0] == b':'
            && rest[1].is_ascii_digit()
            && rest[2] == b'/'
            && rest[3].is_ascii_digit()
            && &rest[4..6] == b"*/"
        {
            return true;
        }
    }
    false
}

/// `\A\s*(call\s+\S+)\(` (case-insensitive): the captured part.
fn call_name(s: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let start = i;
    if !starts_with_ci(s, i, b"call") {
        return None;
    }
    i += 4;
    let spaces = i;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    if i == spaces {
        return None;
    }
    let run_start = i;
    while i < s.len() && !is_space(s[i]) {
        i += 1;
    }
    // `\S+` backtracks to the last `(` of the run that leaves it non-empty.
    let run = &s[run_start..i];
    let paren = run.iter().rposition(|&b| b == b'(').filter(|&p| p > 0)?;
    Some(&s[start..run_start + paren])
}

/// `\A((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO.+?VALUES\s*\(.*?\))\s*,\s*\(`
/// (`/is`): a multi-row insert cut after its first row.
fn shorten_multi_insert(s: &[u8]) -> &[u8] {
    let mut i = if starts_with_ci(s, 0, b"INSERT") {
        6
    } else if starts_with_ci(s, 0, b"REPLACE") {
        7
    } else {
        return s;
    };
    let into_at = |mut j: usize| {
        let begin = j;
        while j < s.len() && is_space(s[j]) {
            j += 1;
        }
        (j > begin && starts_with_ci(s, j, b"INTO")).then_some(j + 4)
    };
    let after_into = if starts_with_ci(s, i, b" IGNORE") {
        into_at(i + 7).or_else(|| into_at(i))
    } else {
        into_at(i)
    };
    let Some(after_into) = after_into else {
        return s;
    };
    i = after_into + 1;
    // Bounded: `i` moves forward every turn.
    while i + 6 <= s.len() {
        if starts_with_ci(s, i, b"VALUES") {
            let mut j = i + 6;
            while j < s.len() && is_space(s[j]) {
                j += 1;
            }
            if s.get(j) == Some(&b'(') {
                let mut k = j + 1;
                while let Some(close) = s[k..].iter().position(|&b| b == b')').map(|p| p + k) {
                    let mut m = close + 1;
                    while m < s.len() && is_space(s[m]) {
                        m += 1;
                    }
                    if s.get(m) == Some(&b',') {
                        m += 1;
                        while m < s.len() && is_space(s[m]) {
                            m += 1;
                        }
                        if s.get(m) == Some(&b'(') {
                            return &s[..=close];
                        }
                    }
                    k = close + 1;
                }
            }
        }
        i += 1;
    }
    s
}

/// `/\*[^!].*?\*/` (multi-line comments, but not `/*!version */`).
fn strip_block_comments(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'/'
            && s.get(i + 1) == Some(&b'*')
            && s.get(i + 2).is_some_and(|&c| c != b'!')
            && let Some(end) = find(s, i + 3, b"*/")
        {
            i = end + 2;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `(?:--|#)[^'"\r\n]*(?=[\r\n]|\Z)`: to the end of the line, unless a
/// quote comes first.
fn strip_line_comments(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let marker = match s[i] {
            b'#' => 1,
            b'-' if s.get(i + 1) == Some(&b'-') => 2,
            _ => 0,
        };
        if marker > 0 {
            let mut j = i + marker;
            while j < s.len() && !matches!(s[j], b'\'' | b'"' | b'\r' | b'\n') {
                j += 1;
            }
            if j == s.len() || matches!(s[j], b'\r' | b'\n') {
                i = j;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `\Ause \S+\Z` (case-insensitive) makes the whole fingerprint `use ?`.
fn abstract_use(s: &[u8]) -> Option<&'static str> {
    if !starts_with_ci(s, 0, b"use ") {
        return None;
    }
    let rest = &s[4..];
    let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
    (!rest.is_empty() && !rest.iter().any(|&b| is_space(b))).then_some("use ?")
}

/// `\\["']` removed.
fn drop_escaped_quotes(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && matches!(s.get(i + 1), Some(b'"' | b'\'')) {
            i += 2;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `".*?"` or `'.*?'` (`/s`) replaced by `?`.
fn replace_quoted(s: &[u8], out: &mut Vec<u8>, quote: u8) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == quote
            && let Some(end) = s[i + 1..].iter().position(|&b| b == quote)
        {
            out.push(b'?');
            i += end + 2;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `\bfalse\b|\btrue\b` (case-insensitive) replaced by `?`.
fn replace_booleans(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    'scan: while i < s.len() {
        if boundary(s, i) {
            for word in [&b"false"[..], b"true"] {
                if starts_with_ci(s, i, word) && boundary(s, i + word.len()) {
                    out.push(b'?');
                    i += word.len();
                    continue 'scan;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

fn is_number_tail(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'.' | b'x' | b'+' | b'-')
}

fn is_number_start(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'+' | b'-')
}

/// `[0-9+-][0-9a-f.xb+-]*` replaced by `?`.
fn replace_numbers(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if is_number_start(s[i]) {
            i += 1;
            while i < s.len() && is_number_tail(s[i]) {
                i += 1;
            }
            out.push(b'?');
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `\b[0-9+-][0-9a-f.xb+-]*` replaced by `?`: digits inside a word stay.
fn replace_numbers_at_boundary(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if is_number_start(s[i]) && boundary(s, i) {
            i += 1;
            while i < s.len() && is_number_tail(s[i]) {
                i += 1;
            }
            out.push(b'?');
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `[xb.+-]\?` replaced by `?`.
fn clean_number_leftovers(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if matches!(s[i], b'x' | b'b' | b'.' | b'+' | b'-') && s.get(i + 1) == Some(&b'?') {
            out.push(b'?');
            i += 2;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// Leading `\s+` cut, one trailing newline chomped, runs of
/// ` \n\t\r\f` squeezed to one space, ASCII lowercased.
fn collapse_whitespace_lowercase(s: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    while start < s.len() && is_space(s[start]) {
        start += 1;
    }
    let s = &s[start..];
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    let mut in_run = false;
    for &b in s {
        if matches!(b, b' ' | b'\n' | b'\t' | b'\r' | 0x0c) {
            if !in_run {
                out.push(b' ');
            }
            in_run = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_run = false;
        }
    }
}

/// `\bnull\b` replaced by `?`.
fn replace_nulls(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(b"null") && boundary(s, i) && boundary(s, i + 4) {
            out.push(b'?');
            i += 4;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// One `[\s,]*\([\s?,]*\)` group at `i`: where it ends.
fn list_group(s: &[u8], mut i: usize) -> Option<usize> {
    while i < s.len() && (is_space(s[i]) || s[i] == b',') {
        i += 1;
    }
    if s.get(i) != Some(&b'(') {
        return None;
    }
    i += 1;
    while i < s.len() && (is_space(s[i]) || matches!(s[i], b'?' | b',')) {
        i += 1;
    }
    (s.get(i) == Some(&b')')).then_some(i + 1)
}

/// `\b(in|values?)(?:[\s,]*\([\s?,]*\))+` replaced by `$1(?+)`.
fn collapse_lists(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if boundary(s, i) && (s[i] == b'i' || s[i] == b'v') {
            let words: &[&[u8]] = if s[i] == b'i' {
                &[b"in"]
            } else {
                &[b"values", b"value"]
            };
            let mut done = false;
            for word in words {
                if !s[i..].starts_with(word) {
                    continue;
                }
                let mut end = i + word.len();
                let mut groups = 0;
                while let Some(next) = list_group(s, end) {
                    end = next;
                    groups += 1;
                }
                if groups > 0 {
                    out.extend_from_slice(word);
                    out.extend_from_slice(b"(?+)");
                    i = end;
                    done = true;
                    break;
                }
            }
            if done {
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

/// `\sunion(?:\sall)?\s` + `cap` at `at`, the `all` tried first: where
/// the repeat ends and whether it took `all`.
fn union_repeat(s: &[u8], at: usize, cap: &[u8]) -> Option<(usize, bool)> {
    if !(at < s.len() && is_space(s[at]) && s[at + 1..].starts_with(b"union")) {
        return None;
    }
    let after_union = at + 6;
    let tail = |from: usize| {
        (from < s.len() && is_space(s[from]) && s[from + 1..].starts_with(cap))
            .then_some(from + 1 + cap.len())
    };
    if after_union < s.len()
        && is_space(s[after_union])
        && s[after_union + 1..].starts_with(b"all")
        && let Some(end) = tail(after_union + 4)
    {
        return Some((end, true));
    }
    tail(after_union).map(|end| (end, false))
}

/// `\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+` replaced by
/// `$1 /*repeat$2*/`: the same select repeated by UNION [ALL].
fn collapse_unions(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    'scan: while i < s.len() {
        if s[i] == b's'
            && boundary(s, i)
            && s[i..].starts_with(b"select")
            && s.get(i + 6).is_some_and(|&b| is_space(b))
        {
            // `.*?` grows one byte at a time (no newline: whitespace is
            // collapsed by now); only a union can follow a shorter one.
            let mut end = i + 7;
            loop {
                if s.get(end) == Some(&b'\n') {
                    break;
                }
                let cap = &s[i..end];
                if let Some((mut at, mut all)) = union_repeat(s, end, cap) {
                    while let Some((next, next_all)) = union_repeat(s, at, cap) {
                        at = next;
                        all = next_all;
                    }
                    out.extend_from_slice(cap);
                    out.extend_from_slice(if all {
                        b" /*repeat union all*/"
                    } else {
                        b" /*repeat union*/"
                    });
                    // `$2` keeps the whitespace as written; collapsed, it is one space.
                    i = at;
                    continue 'scan;
                }
                if end >= s.len() {
                    break;
                }
                end += 1;
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

/// The first `\blimit \?(?:, ?\?| offset \?)?` becomes `limit ?`.
fn collapse_limit(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'l' && boundary(s, i) && s[i..].starts_with(b"limit ?") {
            let mut end = i + 7;
            if s[end..].starts_with(b", ?") {
                end += 3;
            } else if s[end..].starts_with(b",?") {
                end += 2;
            } else if s[end..].starts_with(b" offset ?") {
                end += 9;
            }
            out.extend_from_slice(b"limit ?");
            out.extend_from_slice(&s[end..]);
            return;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// After the first `\border by `, every `\s+asc` that follows at least one
/// byte after the previous one is dropped (`1 while s/\G(.+?)\s+ASC/$1/gi`).
fn drop_order_by_asc(s: &mut Vec<u8>) {
    let Some(start) =
        (0..s.len()).find(|&i| boundary(s, i) && s[i..].eq_ignore_ascii_case_prefix(b"order by "))
    else {
        return;
    };
    let mut out = Vec::with_capacity(s.len());
    out.extend_from_slice(&s[..start + 9]);
    let mut cur = start + 9;
    // Bounded: `cur` moves forward every turn.
    loop {
        let mut e = cur + 1;
        let mut found = None;
        while e < s.len() {
            if s[e] != b'\n' && is_space(s[e]) {
                let mut run = e;
                while run < s.len() && is_space(s[run]) {
                    run += 1;
                }
                if starts_with_ci(s, run, b"asc") {
                    found = Some((e, run + 3));
                    break;
                }
            }
            if s[e] == b'\n' {
                break;
            }
            e += 1;
        }
        match found {
            Some((ws, end)) => {
                out.extend_from_slice(&s[cur..ws]);
                cur = end;
            }
            None => break,
        }
    }
    out.extend_from_slice(&s[cur.min(s.len())..]);
    *s = out;
}

trait PrefixCi {
    fn eq_ignore_ascii_case_prefix(&self, prefix: &[u8]) -> bool;
}

impl PrefixCi for [u8] {
    fn eq_ignore_ascii_case_prefix(&self, prefix: &[u8]) -> bool {
        self.len() >= prefix.len() && self[..prefix.len()].eq_ignore_ascii_case(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::{EmbeddedNumbers, fingerprint};

    /// Each answer is what pt-query-digest 3.2.1 prints for the statement
    /// (`crates/tejun-cli/tests/digest_corpus/corner-cases.log`).
    #[test]
    fn pt_query_digest_answers() {
        let cases = [
            (
                "SELECT /*!40001 SQL_NO_CACHE */ * FROM `orders`",
                "mysqldump",
            ),
            ("call   MyProc(1, 2)", "call   myproc"),
            ("CALL db.proc(bar(1))", "call db.proc(bar"),
            (
                "insert into t (a) values (now()), (1)",
                "insert into t (a) values (now())",
            ),
            (
                "INSERT IGNORE INTO t (a) VALUES ('a'), ('b')",
                "insert ignore into t (a) values(?+)",
            ),
            ("select 'a#b' from t # real comment", "select ? from t "),
            (
                "select col-1, x1y2 from db1.table2 where id=0xFF and f = 1.5e10",
                "select col?, x1y2 from db1.table2 where id=?ff and f = ?",
            ),
            (
                "SELECT * FROM t WHERE x IN ( 1 , 2 ) OR z in(NULL)",
                "select * from t where x in(?+) or z in(?+)",
            ),
            (
                "select a from t union select a from t union all select a from t",
                "select a from t /*repeat union all*/",
            ),
            (
                "SELECT * FROM t ORDER BY a ASC, b DESC, c ASC",
                "select * from t order by a, b desc, c",
            ),
            ("SELECT * FROM t LIMIT 5,10", "select * from t limit ?"),
            (
                "select true, false, truex, null, nullable from t",
                "select ?, ?, truex, ?, nullable from t",
            ),
            ("   SELECT   *\n\n FROM  t  ", "select * from t "),
            ("select -- c1\n a, -- c2\n b from t", "select a, b from t"),
            (
                "SELECT a FROM t WHERE b = 'x' -- it's a comment",
                "select a from t where b = ? -- it's a comment",
            ),
            (
                "select * from t where a = '\\\\' and b = 1",
                "select * from t where a = '\\ and b = ?",
            ),
            (
                "select x from t where a=1 ORDER  BY b  ASC",
                "select x from t where a=? order by b",
            ),
            ("administrator command: Quit", "administrator command: Quit"),
        ];
        for (query, want) in cases {
            assert_eq!(fingerprint(query, EmbeddedNumbers::Keep), want, "{query:?}");
        }
        assert_eq!(
            fingerprint(
                "SELECT * FROM db1.table2 WHERE id = 42",
                EmbeddedNumbers::Replace
            ),
            "select * from d?table? where id = ?"
        );
    }
}
