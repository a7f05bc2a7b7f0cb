use cachemacro_runtime::memoize;

struct User {
    id: u64,
}

const PAGE_SIZE: u32 = 20;

fn normalize(page: u32) -> u32 {
    page.max(1)
}

// `usr` is close to an argument; `tenant` is close to none; a free function has no `self`. Names
// bound in the expression, constants and called functions are not reported.
#[memoize(key = (usr.id, normalize(page) * PAGE_SIZE, tenant, self, [1u8].map(|x| x + 1)))]
fn feed(user: &User, page: u32) -> u32 {
    let _ = user;
    page
}

#[memoize(key = page.await)]
async fn later(page: u32) -> u32 {
    page
}

fn main() {}
