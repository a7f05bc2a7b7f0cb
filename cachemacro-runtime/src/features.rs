//! Options that need a cargo feature of this crate. The macro cannot see which features the
//! runtime was built with, so it wraps what such an option generates in a macro that the runtime
//! defines one way with the feature and another without: the expansion as it is, or a compile
//! error on the option's value that names the feature to enable.

/// `backend = "redis"`: `{ function unchanged } { expansion }`, invoked with the span of the
/// `"redis"` literal. With the `redis` feature it expands to the expansion.
#[cfg(feature = "redis")]
#[doc(hidden)]
#[macro_export]
macro_rules! __cachemacro_redis_backend {
    ({ $($unchanged:tt)* } { $($expansion:tt)* }) => {
        $($expansion)*
    };
}

/// `backend = "redis"` without the `redis` feature: the error, on the `"redis"` literal, and the
/// function unchanged beside it (so that one mistake gives one error, not one per use of the
/// missing `RedisCache`).
#[cfg(not(feature = "redis"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __cachemacro_redis_backend {
    ({ $($unchanged:tt)* } { $($expansion:tt)* }) => {
        ::core::compile_error! {
            "`backend = \"redis\"` needs the `redis` feature of cachemacro-runtime: \
             `cachemacro-runtime = { version = \"0.1\", features = [\"redis\"] }`"
        }
        $($unchanged)*
    };
}
