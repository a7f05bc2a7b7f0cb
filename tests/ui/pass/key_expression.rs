use cachemacro_runtime::{CacheKey, memoize};

/// Neither is a key; their ids are.
struct Db;
#[derive(Clone)]
struct User {
    id: u64,
    email: String,
}

#[derive(Clone, CacheKey)]
struct Tenant(u32);

const PAGE_SIZE: u64 = 20;

fn bucket(email: &str) -> &str {
    email.rsplit('@').next().unwrap_or(email)
}

// Arguments the expression does not use need not be keys; names it binds, constants and functions
// are fine.
#[memoize(key = (user.id, page * PAGE_SIZE, bucket(&user.email), [1u64, 2].map(|x| x * *page)))]
fn feed(db: &Db, user: &User, page: u64) -> u64 {
    let _ = db;
    user.id + page
}

struct Repo {
    tenant: Tenant,
    db: Db,
}

impl Repo {
    #[memoize(key = (&self.tenant, id))]
    fn get(&self, id: u64) -> String {
        let _ = &self.db;
        format!("{id}")
    }
}

#[memoize(ttl = 60, refresh = "background", key = user.id)]
fn cached_name(user: &User) -> String {
    user.email.clone()
}

#[memoize(ttl = 60, backend = "redis", key = user.id)]
async fn remote_name(user: User, db: &Db) -> String {
    let _ = db;
    user.email
}

#[memoize(key = ())]
fn constant(db: &Db) -> u32 {
    let _ = db;
    7
}

fn main() {
    let user = User { id: 1, email: "a@b".into() };
    assert_eq!(feed(&Db, &user, 2), 3);
    let repo = Repo { tenant: Tenant(1), db: Db };
    assert_eq!(repo.get(4), "4");
    assert_eq!(cached_name(&user), "a@b");
    assert_eq!(constant(&Db), 7);
    let _ = remote_name(user, &Db);
}
