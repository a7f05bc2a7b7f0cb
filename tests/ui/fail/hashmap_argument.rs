use cachemacro_runtime::memoize;

use std::collections::HashMap;

#[memoize]
fn total(prices: HashMap<String, u64>) -> u64 {
    prices.values().sum()
}

fn main() {}
