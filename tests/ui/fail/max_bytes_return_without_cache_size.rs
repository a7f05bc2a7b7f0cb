use cachemacro_runtime::memoize;

#[derive(Clone)]
struct Report {
    lines: Vec<String>,
}

// With `max_bytes`, what is kept must tell its size.
#[memoize(max_bytes = "1MiB")]
fn report(day: u32) -> Report {
    let _ = day;
    Report { lines: Vec::new() }
}

// Of a `Result`, the `Ok` type alone is kept: the error type needs nothing.
#[memoize(max_bytes = "1MiB")]
fn load(name: &str) -> std::io::Result<Report> {
    let _ = name;
    Ok(Report { lines: Vec::new() })
}

fn main() {}
