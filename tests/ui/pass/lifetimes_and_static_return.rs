use cachemacro_runtime::memoize;

#[memoize]
fn first_word<'a>(text: &'a str) -> String {
    text.split(' ').next().unwrap_or("").to_string()
}

#[memoize]
fn label(code: u8) -> &'static str {
    if code == 0 { "ok" } else { "error" }
}

fn main() {
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(label(0), "ok");
}
