//! The expansion names everything by an absolute path (`::core`, `::std`, the runtime's path), so
//! local items called `core`, `std`, `Result` or `bool` beside a memoized function change nothing,
//! and `crate = "..."` points it at the runtime under another name. The same holds for
//! `#[derive(CacheKey)]` and its `#[cache_key(crate = "...")]`.

#![allow(dead_code)]

extern crate cachemacro_runtime as renamed;

use renamed::memoize;

// Shadow what a careless expansion would name by a relative path, primitive types included.
mod core {}
mod std {}
type Result<T> = ::core::result::Result<T, ::std::string::String>;
type Option = ();
#[allow(non_camel_case_types)]
type bool = ();
#[allow(non_camel_case_types)]
type u128 = ();
struct LazyLock;
fn drop() {}

/// The runtime re-exported under a path of the user's choosing.
mod facade {
    pub use ::cachemacro_runtime::*;
}

#[memoize(ttl = 60)]
fn parse(text: &str) -> Result<u32> {
    text.parse()
        .map_err(|_| ::std::format!("not a number: {text}"))
}

#[memoize(cache_none = false)]
fn find(id: u32) -> ::core::option::Option<u32> {
    (id > 1).then_some(id)
}

#[memoize(crate = "renamed", capacity = 10)]
fn through_renamed(x: u64) -> u64 {
    x + 1
}

#[memoize(crate = "crate::facade")]
fn through_facade(x: u64) -> u64 {
    x + 2
}

// A Redis function's expansion is handed to the runtime's `__private::redis_backend!`, named by
// the same path.
#[memoize(crate = "crate::facade", backend = "redis")]
fn redis_through_facade(x: u64) -> u64 {
    x + 3
}

#[memoize(crate = "renamed", backend = "redis")]
fn redis_through_renamed(x: u64) -> u64 {
    x + 4
}

struct Repo;

impl Repo {
    #[memoize(ignore = [self])]
    fn count(&self, table: &str) -> usize {
        table.len()
    }
}

#[derive(renamed::CacheKey)]
#[cache_key(crate = "renamed")]
enum Plan {
    Free,
    Paid { seats: u32 },
}

#[derive(facade::CacheKey)]
#[cache_key(crate = "crate::facade")]
struct Seat(u32, Plan);

#[memoize(crate = "renamed")]
fn seat_count(seat: Seat) -> u32 {
    match seat.1 {
        Plan::Free => seat.0,
        Plan::Paid { seats } => seat.0 + seats,
    }
}

#[memoize]
async fn fetch(id: u32) -> Result<u32> {
    ::core::result::Result::Ok(id)
}

#[test]
fn expansion_ignores_local_core_std_and_result() {
    ::core::assert_eq!(parse("7"), ::core::result::Result::Ok(7));
    ::core::assert!(parse("x").is_err());
    ::core::assert_eq!(find(0), ::core::option::Option::None);
    ::core::assert_eq!(Repo.count("users"), 5);
    ::core::assert_eq!(Repo::count_cache().len(), Some(1));
    let runtime = ::tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    ::core::assert_eq!(runtime.block_on(fetch(3)), ::core::result::Result::Ok(3));
}

#[test]
fn crate_option_points_the_expansion_at_a_renamed_runtime() {
    ::core::assert_eq!(through_renamed(1), 2);
    ::core::assert_eq!(through_renamed(1), 2);
    ::core::assert_eq!(through_renamed_cache().stats().hits, 1);
    ::core::assert_eq!(through_renamed_cache().capacity(), Some(10));
    ::core::assert_eq!(through_facade(1), 3);
    ::core::assert_eq!(through_facade_cache().len(), Some(1));
    // The companions exist, so the runtime kept the expansion (no Redis is reached: the body runs
    // uncached).
    ::core::assert_eq!(redis_through_facade_uncached(1), 4);
    ::core::assert_eq!(redis_through_renamed_uncached(1), 5);
}

#[test]
fn derive_names_the_runtime_by_its_crate_option() {
    ::core::assert_eq!(seat_count(Seat(1, Plan::Paid { seats: 2 })), 3);
    ::core::assert_eq!(seat_count(Seat(1, Plan::Paid { seats: 2 })), 3);
    ::core::assert_eq!(seat_count(Seat(1, Plan::Free)), 1);
    ::core::assert_eq!(seat_count_cache().stats().hits, 1);
    ::core::assert_eq!(
        renamed::key::key_hash(&Seat(1, Plan::Paid { seats: 2 })),
        renamed::key::key_hash(&(1u32, "Paid", 2u32))
    );
}

// Memoized functions written by a `macro_rules!` macro, their argument types passed in as
// `$t:ty`: the expansion puts the key's writes on the types (for errors), yet must read the
// arguments and its own locals by the names the macro declared (macro_rules hygiene). So must a
// derive's, for fields of `$t:ty` types.
macro_rules! memoized_by_macro {
    ($t:ty) => {
        static BY_MACRO_RUNS: ::std::sync::atomic::AtomicU32 =
            ::std::sync::atomic::AtomicU32::new(0);

        #[memoize]
        fn by_macro(a: $t, b: &$t) -> u64 {
            BY_MACRO_RUNS.fetch_add(1, ::std::sync::atomic::Ordering::SeqCst);
            ::core::primitive::u64::from(a + *b)
        }

        #[memoize(refresh = "background", ttl = 60)]
        fn by_macro_refreshing(a: $t) -> u64 {
            ::core::primitive::u64::from(a)
        }

        struct MacroRepo;

        impl MacroRepo {
            #[memoize(ignore = [self])]
            fn twice(&self, a: $t) -> u64 {
                ::core::primitive::u64::from(a) * 2
            }
        }

        #[derive(renamed::CacheKey, renamed::CacheSize, Clone)]
        struct MacroKey {
            id: u16,
            of: $t,
        }

        #[derive(renamed::CacheKey, Clone)]
        enum MacroChoice {
            One($t),
            Two { first: $t, second: $t },
        }

        #[memoize]
        fn by_macro_choice(choice: MacroChoice) -> u64 {
            match choice {
                MacroChoice::One(a) => ::core::primitive::u64::from(a),
                MacroChoice::Two { first, second } => ::core::primitive::u64::from(first + second),
            }
        }

        #[memoize]
        fn by_macro_key(key: MacroKey) -> u64 {
            ::core::primitive::u64::from(key.id)
        }
    };
}

memoized_by_macro!(u32);

#[test]
fn functions_written_by_macro_rules_with_ty_fragments() {
    use ::std::sync::atomic::Ordering;
    ::core::assert_eq!(by_macro(1, &2), 3);
    ::core::assert_eq!(by_macro(1, &2), 3);
    ::core::assert_eq!(by_macro(2, &2), 4);
    ::core::assert_eq!(BY_MACRO_RUNS.load(Ordering::SeqCst), 2);
    ::core::assert_eq!(by_macro_cache().stats().hits, 1);
    ::core::assert_eq!(by_macro_refreshing(5), 5);
    ::core::assert_eq!(MacroRepo.twice(4), 8);
    ::core::assert_eq!(MacroRepo::twice_cache().len(), Some(1));
    ::core::assert_eq!(by_macro_key(MacroKey { id: 9, of: 1 }), 9);
    ::core::assert_eq!(by_macro_key(MacroKey { id: 9, of: 1 }), 9);
    ::core::assert_eq!(by_macro_key(MacroKey { id: 9, of: 2 }), 9);
    ::core::assert_eq!(by_macro_key_cache().stats().hits, 1);
    ::core::assert!(renamed::CacheSize::cache_size(&MacroKey { id: 1, of: 1 }) >= 6);
    ::core::assert_eq!(
        by_macro_choice(MacroChoice::Two {
            first: 1,
            second: 2
        }),
        3
    );
    ::core::assert_eq!(
        by_macro_choice(MacroChoice::Two {
            first: 2,
            second: 1
        }),
        3
    );
    ::core::assert_eq!(by_macro_choice(MacroChoice::One(3)), 3);
    ::core::assert_eq!(by_macro_choice_cache().stats().hits, 0);
}
