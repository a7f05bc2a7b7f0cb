//! Walking a function's entries with `SCAN` (never `KEYS`), page by page, each page within the
//! timeout: `clear()` and `len()`.

use std::time::Duration;

use super::connection::{Failure, query, within};

/// Keys asked for per `SCAN` page by `clear()` and `len()`.
const SCAN_PAGE: usize = 1000;

/// `text` with Redis glob's special characters escaped, to match itself literally.
pub(super) fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One `SCAN` page: the next cursor (0 at the end) and the keys found.
async fn scan_page(
    manager: &mut ::redis::aio::ConnectionManager,
    cursor: u64,
    pattern: &str,
    page_timeout: Duration,
) -> Result<(u64, Vec<Vec<u8>>), Failure> {
    let mut command = ::redis::cmd("SCAN");
    command
        .arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(SCAN_PAGE);
    within(page_timeout, query(manager, &command)).await
}

pub(super) async fn clear_matching(
    mut manager: ::redis::aio::ConnectionManager,
    pattern: String,
    page_timeout: Duration,
) -> Result<u64, Failure> {
    let (mut cursor, mut removed) = (0, 0);
    loop {
        let (next, keys) = scan_page(&mut manager, cursor, &pattern, page_timeout).await?;
        if !keys.is_empty() {
            let mut command = ::redis::cmd("UNLINK");
            command.arg(keys);
            removed += within(page_timeout, query::<u64>(&mut manager, &command)).await?;
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

pub(super) async fn count_matching(
    mut manager: ::redis::aio::ConnectionManager,
    pattern: String,
    page_timeout: Duration,
) -> Result<u64, Failure> {
    let (mut cursor, mut count) = (0, 0);
    loop {
        let (next, keys) = scan_page(&mut manager, cursor, &pattern, page_timeout).await?;
        count += keys.len() as u64;
        if next == 0 {
            return Ok(count);
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob(r"a*b?c[d]e\f:g"), r"a\*b\?c\[d\]e\\f:g");
    }
}
