//! The limits' decisions, on tiny quotas that refill far slower than a test runs.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};

use super::*;

fn req(peer: &str, cookie: Option<&str>) -> Request<()> {
    let mut r = Request::new(());
    r.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1234)));
    if let Some(c) = cookie {
        r.headers_mut()
            .insert(header::COOKIE, HeaderValue::from_str(c).unwrap());
    }
    r
}

fn limits(browser_burst: u32, address_per_minute: u32) -> Limiter {
    Limiter {
        client_ip: ClientIp::new(vec![]),
        browser: Quota::with_period(Duration::from_secs(60)).map(|q| {
            (
                Keyed::keyed(q.allow_burst(NonZeroU32::new(browser_burst).unwrap())),
                RandomState::new(),
            )
        }),
        address: per_minute(address_per_minute).map(|l| (l, Limit::Address)),
        prefetch_free: false,
    }
}

fn refused(result: Result<(), AppError>) -> Option<Refusal> {
    match result {
        Ok(()) => None,
        Err(AppError::TooManyRequests(r)) => Some(r),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[test]
fn a_browser_over_its_limit_spends_nothing_of_its_address() {
    let l = limits(2, 5);
    let a = req("198.51.100.9", Some("perkgate-csrf=browser-a"));
    for _ in 0..2 {
        assert_eq!(refused(l.check(&a)), None);
    }
    // Hammering: the browser is refused, again and again, and its address keeps its share.
    for _ in 0..20 {
        assert_eq!(refused(l.check(&a)).map(|r| r.limit), Some(Limit::Browser));
    }
    for b in ["perkgate-csrf=browser-b", "perkgate=session-c"] {
        assert_eq!(refused(l.check(&req("198.51.100.9", Some(b)))), None);
    }
    // The address's fifth start; then the ceiling holds for every browser behind it.
    assert_eq!(refused(l.check(&req("198.51.100.9", None))), None);
    let refusal = refused(l.check(&req("198.51.100.9", Some("perkgate=new")))).unwrap();
    assert_eq!(refusal.limit, Limit::Address);
    // One start every 12 s at 5 a minute: the wait is under it, rounded up.
    assert!((1..=12).contains(&refusal.retry_after), "{refusal:?}");
    // Another address is not concerned.
    assert_eq!(
        refused(l.check(&req("203.0.113.1", Some("perkgate=new")))),
        None
    );
}

#[test]
fn browsers_without_cookies_share_their_address_budget() {
    let l = limits(1, 100);
    assert_eq!(refused(l.check(&req("198.51.100.9", None))), None);
    assert_eq!(
        refused(l.check(&req("198.51.100.9", Some("unrelated=1")))).map(|r| r.limit),
        Some(Limit::Browser)
    );
    assert_eq!(refused(l.check(&req("198.51.100.10", None))), None);
}

#[test]
fn the_callback_ceiling_lets_prefetches_through_for_free() {
    let l = Limiter {
        address: per_minute(1).map(|l| (l, Limit::Callback)),
        browser: None,
        prefetch_free: true,
        ..limits(1, 1)
    };
    let mut prefetch = req("198.51.100.9", None);
    prefetch
        .headers_mut()
        .insert("sec-purpose", HeaderValue::from_static("prefetch"));
    for _ in 0..5 {
        assert_eq!(refused(l.check(&prefetch)), None);
    }
    assert_eq!(refused(l.check(&req("198.51.100.9", None))), None);
    let refusal = refused(l.check(&req("198.51.100.9", None))).unwrap();
    assert_eq!(refusal.limit, Limit::Callback);
    assert!((59..=60).contains(&refusal.retry_after), "{refusal:?}");
    // Refused or not, a prefetch is answered.
    assert_eq!(refused(l.check(&prefetch)), None);
}

#[test]
fn without_an_address_a_request_is_refused_as_bad() {
    let l = limits(1, 1);
    assert!(matches!(
        l.check(&Request::new(())),
        Err(AppError::BadRequest(_))
    ));
}

#[test]
fn the_wait_is_whole_seconds_rounded_up() {
    assert_eq!(whole_seconds(Duration::ZERO), 1);
    assert_eq!(whole_seconds(Duration::from_millis(200)), 1);
    assert_eq!(whole_seconds(Duration::from_millis(1000)), 1);
    assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
    assert_eq!(whole_seconds(Duration::from_secs(59)), 59);
}

#[test]
fn the_message_names_the_wait_of_retry_after() {
    let en = crate::i18n::catalog(crate::i18n::Locale::En);
    let r = |limit, retry_after| Refusal { limit, retry_after }.message(en);
    assert_eq!(
        r(Limit::Browser, 12),
        "Please wait 12 seconds, then try again from the store."
    );
    assert_eq!(
        r(Limit::Browser, 1),
        "Please wait 1 second, then try again from the store."
    );
    assert!(
        r(Limit::Address, 3).contains("your network")
            && r(Limit::Address, 3).contains("wait 3 seconds,")
    );
    // A refused callback is reloaded, not started over.
    assert!(r(Limit::Callback, 2).contains("wait 2 seconds, then reload this page"));
    let es = crate::i18n::catalog(crate::i18n::Locale::Es);
    assert_eq!(
        Refusal {
            limit: Limit::Browser,
            retry_after: 1
        }
        .message(es),
        "Espera 1 segundo y vuelve a intentarlo desde la tienda."
    );
}

#[test]
fn the_response_carries_the_wait_in_its_header_and_in_its_page() {
    use super::super::error::ErrorPage;
    let refusal = Refusal {
        limit: Limit::Callback,
        retry_after: 7,
    };
    let res = AppError::TooManyRequests(refusal).into_response();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()[header::RETRY_AFTER], "7");
    // The HTML page and the JSON form under /api/ both render this message.
    let page = res.extensions().get::<ErrorPage>().unwrap();
    let en = crate::i18n::catalog(crate::i18n::Locale::En);
    let text = page.message.text(std::time::Duration::ZERO, en);
    assert_eq!(text, refusal.message(en));
    assert!(text.contains("Please wait 7 seconds,"));
}
