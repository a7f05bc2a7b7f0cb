use cachemacro_runtime::memoize;

/// A background refresh runs later, on a pool thread, so it needs owned copies of the
/// arguments: `Handle` can be neither cloned nor turned into an owned value.
struct Handle;

#[memoize(ttl = 60, refresh = "background", ignore = [handle])]
fn servers(region: u32, handle: &Handle) -> Vec<u32> {
    let _ = handle;
    vec![region]
}

fn main() {}
