// A sync `f_warm` runs items on other threads: items that cannot be sent are refused where
// `f_warm` is called (the function itself compiles).
use std::rc::Rc;

use cachemacro_runtime::memoize;

#[memoize]
fn rc_len(text: Rc<str>) -> usize {
    text.len()
}

fn main() {
    rc_len_warm([Rc::from("a")]);
}
