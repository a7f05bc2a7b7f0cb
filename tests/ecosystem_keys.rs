//! Keys of ecosystem types (`std::net`, `Path`, and the runtime's features `uuid`, `chrono`,
//! `time`, `url`, `serde_json`, which this package's dev-dependencies turn on). Every expected
//! hash is a literal computed by an independent XXH3-128 implementation (Python's `xxhash`) over
//! the encoding documented in `cachemacro_runtime::key`, built there with Python's own `uuid`,
//! `datetime`, `calendar` and `ipaddress`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::key::key_hash;
use cachemacro_runtime::memoize;

#[test]
fn uuid_is_its_sixteen_bytes() {
    let id = uuid::Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
    assert_eq!(key_hash(&id), 0x2c8f3e1985bfc8a5180519b4cb116513);
}

#[test]
fn chrono_dates_times_and_instants() {
    use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    // Days from the Common Era: 738945 (Python: date(2024, 2, 29).toordinal()).
    assert_eq!(key_hash(&date), 0x0d9f54fd04349ea3dd4dbcad771627a2);
    // 0000-01-01 is day -365 (year 0 is a leap year).
    let year_zero = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
    assert_eq!(key_hash(&year_zero), 0x5eae327276caba5d8152a938a70b8855);
    let time = NaiveTime::from_hms_nano_opt(13, 45, 30, 123_456_789).unwrap();
    assert_eq!(key_hash(&time), 0x4fabf1fb5d3f1e2e18332d0d2c509f9d);
    assert_eq!(
        key_hash(&date.and_time(time)),
        0xb628dd05e998ec30ea2b0ecf394cf487
    );

    // 2024-02-29T13:45:30.5+02:00 is the UTC instant 1709207130 s + 500000000 ns.
    let paris = FixedOffset::east_opt(2 * 3600).unwrap();
    let local = paris
        .with_ymd_and_hms(2024, 2, 29, 13, 45, 30)
        .unwrap()
        .checked_add_signed(chrono::TimeDelta::milliseconds(500))
        .unwrap();
    assert_eq!(key_hash(&local), 0x6a802165d8cc16ea4ea3d60b8ff25509);
    let utc = local.with_timezone(&Utc);
    assert_eq!(key_hash(&utc), key_hash(&local), "one instant, one key");
    assert_ne!(
        key_hash(&local.naive_local()),
        key_hash(&local.naive_utc()),
        "naive date-times are wall-clock values"
    );
}

#[test]
fn time_crate_dates_times_and_instants_key_as_chronos() {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcDateTime, UtcOffset};
    let date = Date::from_calendar_date(2024, Month::February, 29).unwrap();
    assert_eq!(key_hash(&date), 0x0d9f54fd04349ea3dd4dbcad771627a2);
    let year_zero = Date::from_calendar_date(0, Month::January, 1).unwrap();
    assert_eq!(key_hash(&year_zero), 0x5eae327276caba5d8152a938a70b8855);
    let time = Time::from_hms_nano(13, 45, 30, 123_456_789).unwrap();
    assert_eq!(key_hash(&time), 0x4fabf1fb5d3f1e2e18332d0d2c509f9d);
    assert_eq!(
        key_hash(&PrimitiveDateTime::new(date, time)),
        0xb628dd05e998ec30ea2b0ecf394cf487
    );

    let local = PrimitiveDateTime::new(date, Time::from_hms_milli(13, 45, 30, 500).unwrap())
        .assume_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
    assert_eq!(key_hash(&local), 0x6a802165d8cc16ea4ea3d60b8ff25509);
    let utc: OffsetDateTime = local.to_offset(UtcOffset::UTC);
    assert_eq!(key_hash(&utc), key_hash(&local), "one instant, one key");
    assert_eq!(key_hash(&UtcDateTime::from(local)), key_hash(&local));
}

#[test]
fn url_is_its_normalized_serialization() {
    let url = url::Url::parse("https://example.com/a?b=c").unwrap();
    assert_eq!(key_hash(&url), 0x2f0b23b553c567aba507e269bf9393ba);
    let written_otherwise = url::Url::parse("HTTPS://Example.COM:443/a?b=c").unwrap();
    assert_eq!(written_otherwise, url);
    assert_eq!(key_hash(&written_otherwise), key_hash(&url));
}

#[test]
fn ip_and_socket_addresses() {
    let v4 = Ipv4Addr::new(192, 168, 1, 20);
    assert_eq!(key_hash(&v4), 0x721383183f55d0cd2d645769d49f5267);
    assert_eq!(key_hash(&IpAddr::V4(v4)), key_hash(&v4));
    assert_eq!(
        key_hash(&Ipv6Addr::LOCALHOST),
        0x5762a99e341c75d92ea65e7e322ec59b
    );
    assert_eq!(
        key_hash(&IpAddr::V6(Ipv6Addr::LOCALHOST)),
        key_hash(&Ipv6Addr::LOCALHOST)
    );
    // IPv4 and its IPv4-mapped IPv6 form are different addresses.
    assert_ne!(key_hash(&v4), key_hash(&v4.to_ipv6_mapped()));

    let socket = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 8080);
    assert_eq!(key_hash(&socket), 0x2ffbb5a4a5db38f509aa18a53a7a7b03);
    assert_eq!(key_hash(&SocketAddr::V4(socket)), key_hash(&socket));
    // fe80::1, port 443, flow info 7, scope id 3.
    let link_local = SocketAddrV6::new("fe80::1".parse().unwrap(), 443, 7, 3);
    assert_eq!(key_hash(&link_local), 0x2f1b41e4b692455336c28ceb0c417f13);
    assert_eq!(key_hash(&SocketAddr::V6(link_local)), key_hash(&link_local));
    let other_scope = SocketAddrV6::new("fe80::1".parse().unwrap(), 443, 7, 4);
    assert_ne!(key_hash(&link_local), key_hash(&other_scope));
}

#[test]
fn equal_paths_share_a_key() {
    let path = Path::new("/srv/data/file.txt");
    for equal in [
        "/srv/data//file.txt",
        "/srv/./data/file.txt",
        "/srv/data/file.txt/",
    ] {
        assert_eq!(Path::new(equal), path);
        assert_eq!(key_hash(Path::new(equal)), key_hash(path), "{equal}");
    }
    assert_eq!(
        key_hash(&PathBuf::from("/srv/data/file.txt")),
        key_hash(path)
    );
    assert_ne!(key_hash(Path::new("/srv/data")), key_hash(path));
    assert_ne!(key_hash(Path::new("srv/data/file.txt")), key_hash(path));
}

#[cfg(unix)]
#[test]
fn path_golden_hashes_on_unix() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    // 4 components: "/", "srv", "data", "file.txt", each as a str.
    assert_eq!(
        key_hash(Path::new("/srv/data/file.txt")),
        0x897f0106b6a65dc7cd17451013dbdbae
    );
    // ".", "a", "..", "b"
    assert_eq!(
        key_hash(Path::new("./a/../b")),
        0x6db4c7ce30496669b50de7391ccffd8c
    );
    assert_eq!(
        key_hash(OsStr::new("naïve")),
        0x3ffc62bf5a669cddef29ba2b5cab3432
    );
    assert_eq!(key_hash(OsStr::new("naïve")), key_hash("naïve"));
    // Not UTF-8: the bytes as they are.
    assert_eq!(
        key_hash(OsStr::from_bytes(b"a\xffb")),
        0x5e04152ee80ce5c5bf3a34d251a50963
    );
}

#[test]
fn json_values_with_objects_sorted_by_key() {
    use serde_json::json;
    let value = json!({"b": [1, -2, 2.5, null, true, "x"], "a": {}});
    assert_eq!(key_hash(&value), 0x3f7b0ce8869b72ee8f7607413441ad61);
    // 1 and 1.0 are different JSON values (they compare unequal), with different keys.
    assert_ne!(json!(1), json!(1.0));
    assert_eq!(key_hash(&json!(1)), 0x14c82ba89d2d500bbd3c781a8b7366c5);
    assert_eq!(key_hash(&json!(1.0)), 0xde0537ba0930cdee5e985fc819521df0);
    assert_eq!(key_hash(&json!(-0.0)), key_hash(&json!(0.0)));
    assert_ne!(key_hash(&json!("1")), key_hash(&json!(1)));
    assert_ne!(key_hash(&json!([[]])), key_hash(&json!([{}])));
}

static BY_DAY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn visits(day: chrono::NaiveDate, site: &url::Url, client: IpAddr, id: uuid::Uuid) -> usize {
    BY_DAY_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = (day, site, client, id);
    1
}

#[test]
fn memoized_functions_take_ecosystem_types() {
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let site = url::Url::parse("https://example.com/").unwrap();
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let id = uuid::Uuid::from_u128(7);
    visits(day, &site, client, id);
    visits(day, &site, client, id);
    assert_eq!(BY_DAY_RUNS.load(Ordering::SeqCst), 1);
    visits(day.succ_opt().unwrap(), &site, client, id);
    visits(day, &site, client, uuid::Uuid::from_u128(8));
    assert_eq!(BY_DAY_RUNS.load(Ordering::SeqCst), 3);
}
