// `crate = "..."` may name the runtime through `crate`, `self` or `super`: such paths are used as
// written (only a bare crate name is made absolute, `::name`).
pub use cachemacro_runtime::*;

#[memoize(crate = "crate")]
fn at_root(x: u32) -> u32 {
    x + 1
}

mod runtime {
    pub use cachemacro_runtime::*;

    #[memoize(crate = "self")]
    pub fn beside(x: u32) -> u32 {
        x + 2
    }

    pub mod inner {
        #[super::memoize(crate = "super")]
        pub fn below(x: u32) -> u32 {
            x + 3
        }
    }
}

fn main() {
    assert_eq!(at_root(1), 2);
    assert_eq!(runtime::beside(1), 3);
    assert_eq!(runtime::inner::below(1), 4);
    assert_eq!(runtime::inner::below_cache().len(), Some(1));
}
