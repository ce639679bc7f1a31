use super::*;

fn returns(origins: &str, apply: Option<&str>) -> Returns {
    Returns::new(Returns::parse_origins(origins).unwrap(), apply).unwrap()
}

#[test]
fn a_listed_origin_is_accepted_as_parsed() {
    let r = returns("https://shop.example, http://localhost:8080", None);
    for ok in [
        "https://shop.example/cart",
        "https://shop.example",
        "https://SHOP.example/cart?step=2#pay",
        "https://shop.example:443/cart",
        "http://localhost:8080/checkout",
    ] {
        assert!(r.accept(ok).is_some(), "{ok}");
    }
    assert_eq!(
        r.accept("https://SHOP.example:443/cart").unwrap().as_str(),
        "https://shop.example/cart"
    );
}

#[test]
fn open_redirect_tricks_are_ignored() {
    let r = returns("https://shop.example", None);
    for bad in [
        "",
        "/cart",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "https:/shop.example/cart",
        "https:shop.example",
        "https://evil.example",
        "https://shop.example.evil.example/",
        "https://evil.example/https://shop.example",
        "https://shop.example@evil.example/",
        "https://evil.example@shop.example/",
        "https://user:pass@shop.example/",
        "https://shop.example%2F@evil.example/",
        "https://shop%2eexample/",
        "https://shop.example%00.evil.example/",
        "https://shop.example\\@evil.example/",
        "https://shop.example\\.evil.example/",
        "https://shop.example./cart",
        "https://shop.example:8443/",
        "http://shop.example/",
        "javascript:alert(1)//https://shop.example",
        "data:text/html,https://shop.example",
        "https://shоp.example/",
        "https://xn--shp-jpd.example/",
        "https://shop.example /cart",
        "https://shop.example/\ncart",
        " https://shop.example/",
        "https://shop.example\t/",
        "https://[::1]/",
        "https://0x7f.0.0.1/",
        "ftp://shop.example/",
        &format!("https://shop.example/{}", "a".repeat(MAX_RETURN_TO)),
    ] {
        assert_eq!(r.accept(bad), None, "{bad:?}");
    }
}

#[test]
fn no_origins_means_no_return() {
    assert_eq!(Returns::default().accept("https://shop.example/"), None);
}

#[test]
fn origins_are_exactly_scheme_host_port() {
    for bad in [
        "https://shop.example/cart",
        "https://shop.example?x",
        "shop.example",
        "https://u@shop.example",
        "ftp://shop.example",
    ] {
        assert!(Returns::parse_origins(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Returns::parse_origins("https://shop.example/, https://b.example:8443").unwrap(),
        vec![
            link("https://shop.example").unwrap().origin(),
            link("https://b.example:8443").unwrap().origin()
        ]
    );
}

#[test]
fn the_apply_link_encodes_the_code_into_a_listed_origin() {
    let r = returns(
        "https://shop.example",
        Some("https://shop.example/discount/{code}?redirect=/cart"),
    );
    assert_eq!(
        r.apply_link("MIL-20").unwrap().as_str(),
        "https://shop.example/discount/MIL-20?redirect=/cart"
    );
    assert_eq!(
        r.apply_link("a/b?c=d&e#f g").unwrap().as_str(),
        "https://shop.example/discount/a%2Fb%3Fc%3Dd%26e%23f%20g?redirect=/cart"
    );
    let woo = returns(
        "https://shop.example",
        Some("https://shop.example/cart/?coupon_code={code}"),
    );
    assert_eq!(
        woo.apply_link("X&coupon_code=Y").unwrap().as_str(),
        "https://shop.example/cart/?coupon_code=X%26coupon_code%3DY"
    );
    assert_eq!(Returns::default().apply_link("X"), None);
}

#[test]
fn the_apply_template_is_checked_at_start_up() {
    let origins = || Returns::parse_origins("https://shop.example").unwrap();
    for (bad, why) in [
        ("https://shop.example/discount", "exactly once"),
        ("https://shop.example/{code}/{code}", "exactly once"),
        ("https://evil.example/{code}", "PERKGATE_RETURN_ORIGINS"),
        ("{code}", "http(s) URL"),
        ("https://{code}.shop.example/", "PERKGATE_RETURN_ORIGINS"),
    ] {
        let err = Returns::new(origins(), Some(bad)).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn palettes_keep_text_readable() {
    for raw in ["#ffd23f", "#0b6e4f", "#000", "#fff", "#e91e63", "#777777"] {
        let p = Palette::parse(raw).unwrap();
        let color = hex_color(&p.color).unwrap();
        let on = hex_color(p.on_color).unwrap();
        let text = hex_color(&p.text).unwrap();
        assert!(contrast(color, on) >= 4.5, "{raw} on {}", p.on_color);
        assert!(
            contrast(text, PAGE_BACKGROUND) >= 4.5,
            "{raw} as text {}",
            p.text
        );
    }
    let dark = Palette::parse("#0B6E4F").unwrap();
    assert_eq!((dark.color.as_str(), dark.on_color), ("#0b6e4f", "#ffffff"));
    assert_eq!(dark.text, "#0b6e4f", "already readable: unchanged");
    let light = Palette::parse("#ffd23f").unwrap();
    assert_eq!(light.on_color, "#000000");
    assert_ne!(light.text, "#ffd23f", "darkened to read as text");
    assert_eq!(Palette::parse("#abc").unwrap().color, "#aabbcc");
    for bad in ["red", "#12345", "0b6e4f", "#ggg", "#0b6e4f;}body{x:y", ""] {
        assert!(Palette::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn support_is_an_address_or_a_link() {
    assert_eq!(
        Support::parse("help@shop.example").unwrap().href(),
        "mailto:help@shop.example"
    );
    assert_eq!(
        Support::parse("https://shop.example/help").unwrap().href(),
        "https://shop.example/help"
    );
    for bad in [
        "help",
        "help@shop",
        "help@shop.example?bcc=x@y.z",
        "a b@shop.example",
        "javascript://x",
    ] {
        assert!(Support::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_default_name_is_a_demo_only_in_the_demo() {
    let public = Url::parse("https://perks.shop.example/").unwrap();
    assert_eq!(Look::default().name_or(true, &public), "Demo store");
    assert_eq!(
        Look::default().name_or(false, &public),
        "perks.shop.example"
    );
    let named = Look {
        name: Some("Acme Outfitters".to_owned()),
        ..Look::default()
    };
    assert_eq!(named.name_or(false, &public), "Acme Outfitters");
}
