use std::sync::Arc;

use cachemacro_runtime::memoize;

#[memoize(ttl = "10m", refresh = "background", refresh_after = "30s")]
fn servers(region: &str, tags: &[u32], limit: u32) -> Vec<String> {
    vec![format!("{region}{tags:?}{limit}")]
}

#[memoize(ttl = 600, refresh = "background")]
async fn listings(page: u32) -> Arc<String> {
    Arc::new(page.to_string())
}

#[derive(Clone)]
struct Repo {
    table: String,
}

impl Repo {
    #[memoize(ttl = 60, refresh = "background", refresh_after = 10, ignore = [self])]
    fn count(&self, filter: String) -> usize {
        self.table.len() + filter.len()
    }
}

#[memoize(ttl = 60, refresh = "none")]
fn plain(x: u32) -> u32 {
    x
}

fn main() {
    assert_eq!(servers("eu", &[1], 2), vec!["eu[1]2".to_string()]);
    assert_eq!(Repo { table: "t".into() }.count("ab".into()), 3);
    assert_eq!(plain(1), 1);
    let _ = listings(1);
}
