//! A hit allocates nothing for integers, strings, slices and small tuples: counted by a global
//! allocator that tallies this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cachemacro_runtime::memoize;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[memoize(ttl = 60)]
fn score(id: u64, name: &str, tags: &[u32], pair: (u8, i64)) -> u64 {
    id + name.len() as u64 + tags.len() as u64 + pair.0 as u64
}

#[memoize]
fn long_key(text: &str) -> usize {
    text.len()
}

#[test]
fn hits_do_not_allocate() {
    let tags = [1, 2, 3];
    assert_eq!(score(1, "ada", &tags, (4, -5)), 11);
    let allocations = allocations_during(|| {
        for _ in 0..1_000 {
            assert_eq!(score(1, "ada", &tags, (4, -5)), 11);
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(score_cache().stats().hits, 1_000);
}

#[test]
fn long_string_keys_stream_without_allocating() {
    let text = "y".repeat(10_000);
    assert_eq!(long_key(&text), 10_000);
    let allocations = allocations_during(|| {
        assert_eq!(long_key(&text), 10_000);
    });
    assert_eq!(allocations, 0);
}
