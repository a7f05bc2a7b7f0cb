//! Warm-up (`f_warm`) on the Redis backend: one item is looked up as a call would be, and
//! computed and stored only if missing.

use super::{RedisCache, Storage, get_command};
use crate::redis::connection::Attempt;
use crate::warm::Warmed;

impl<R, S> RedisCache<R, S>
where
    R: Clone + Send + Sync + 'static,
    S: Storage<R>,
{
    /// Warms one item: `Present` if an entry is there (or another caller in this process brought
    /// one), else computes it and reports whether it was stored.
    #[doc(hidden)]
    pub fn warm(
        &self,
        key: u128,
        cacheable: impl Fn(&R) -> bool,
        body: impl FnOnce() -> R,
    ) -> Warmed {
        let leader = match self.lead(key) {
            Ok(leader) => leader,
            Err(_) => return Warmed::Present,
        };
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let fetched = target.connection.command_blocking(
            Attempt::Routine,
            target.timeout(),
            get_command(&redis_key),
        );
        if let Some(value) = self.read(fetched, &target) {
            self.counters.hit();
            leader.finish(&value);
            return Warmed::Present;
        }
        self.counters.miss();
        let value = body();
        if !cacheable(&value) {
            return Warmed::Failed;
        }
        let stored = self.write_blocking(&target, &redis_key, &value);
        leader.finish(&value);
        if stored {
            Warmed::Stored
        } else {
            Warmed::Failed
        }
    }

    /// [`warm`](Self::warm) for async functions.
    #[doc(hidden)]
    pub async fn warm_async(
        &self,
        key: u128,
        cacheable: impl Fn(&R) -> bool,
        body: impl Future<Output = R>,
    ) -> Warmed {
        let leader = match self.lead_async(key).await {
            Ok(leader) => leader,
            Err(_) => return Warmed::Present,
        };
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let fetched = target
            .connection
            .command(Attempt::Routine, target.timeout(), get_command(&redis_key))
            .await;
        if let Some(value) = self.read(fetched, &target) {
            self.counters.hit();
            leader.finish(&value);
            return Warmed::Present;
        }
        self.counters.miss();
        let value = body.await;
        if !cacheable(&value) {
            return Warmed::Failed;
        }
        let stored = self.write(&target, &redis_key, &value).await;
        leader.finish(&value);
        if stored {
            Warmed::Stored
        } else {
            Warmed::Failed
        }
    }
}
