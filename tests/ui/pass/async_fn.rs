use cachemacro_runtime::memoize;

#[memoize(ttl = "5s")]
async fn price(symbol: String) -> Result<u64, String> {
    Ok(symbol.len() as u64)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(rt.block_on(price("abc".into())), Ok(3));
    assert_eq!(rt.block_on(price_refresh("abc".into())), Ok(3));
}
