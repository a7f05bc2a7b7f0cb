//! Warm-up (`f_warm`) on the Redis backend: an item is looked up as a call would be (under the
//! function's `lock`), and computed and stored only if missing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RedisCache;
use super::lookup::Looked;
use crate::layout::{Keep, Layout};
use crate::memo::driver::block_on;
use crate::warm::Warmed;

impl<R, S> RedisCache<R, S>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    /// Warms one item: `Present` if a value was found (in Redis, or brought by another caller),
    /// else whether the computed value was stored.
    #[doc(hidden)]
    pub fn warm<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl FnOnce() -> Ret,
    ) -> Warmed
    where
        S: Keep<Ret, Kept = R>,
    {
        warmed(block_on(self.look_up(
            key,
            cacheable,
            async move { body() },
        )))
    }

    /// [`warm`](Self::warm) for async functions.
    #[doc(hidden)]
    pub async fn warm_async<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Warmed
    where
        S: Keep<Ret, Kept = R>,
    {
        warmed(self.look_up(key, cacheable, body).await)
    }
}

fn warmed<R>(looked: Looked<R>) -> Warmed {
    match looked {
        Looked::Found(_) => Warmed::Present,
        Looked::Computed(_, stored) => Warmed::computed(stored),
    }
}
