//! An offer's discount (percent, amount or free shipping) and the amounts in a rules file.

use toml::Spanned;

use super::Report;
use super::raw::RawOffer;
use crate::rules::{Discount, Money};

pub(super) fn money(r: &mut Report<'_>, v: &Spanned<toml::Value>, field: &str) -> Option<Money> {
    let parsed = match v.get_ref() {
        toml::Value::String(s) => Money::parse(s),
        toml::Value::Integer(i) if *i >= 0 => Some(Money(i * 100)),
        toml::Value::Float(f) if *f >= 0.0 => Money::parse(&format!("{f}")),
        _ => None,
    };
    if parsed.is_none() {
        r.error(
            v.span(),
            field,
            "expected an amount such as \"100.00\" (not negative, at most two decimals)",
        );
    }
    parsed
}

pub(super) fn discount(
    r: &mut Report<'_>,
    o: &RawOffer,
    offer_span: std::ops::Range<usize>,
) -> Option<Discount> {
    let min_order = o.min_order.as_ref().and_then(|m| money(r, m, "min_order"));
    let given = [
        o.percent.is_some(),
        o.amount.is_some(),
        o.free_shipping.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given == 0 {
        r.error(
            offer_span,
            "percent",
            "no discount: give one of percent, amount or free_shipping",
        );
        return None;
    }
    if given > 1 {
        r.error(
            offer_span,
            "percent",
            "give only one of percent, amount or free_shipping",
        );
        return None;
    }
    if let Some(cap) = &o.cap
        && o.percent.is_none()
    {
        r.error(
            cap.span(),
            "cap",
            "a cap only applies to a percent discount",
        );
    }
    if let Some(p) = &o.percent {
        let percent = *p.get_ref();
        if !(1..=100).contains(&percent) {
            r.error(
                p.span(),
                "percent",
                format!("must be from 1 to 100, got {percent}"),
            );
            return None;
        }
        let cap = o.cap.as_ref().and_then(|c| money(r, c, "cap"));
        return Some(Discount::Percent {
            percent: percent as u8,
            cap,
            min_order,
        });
    }
    if let Some(a) = &o.amount {
        let amount = money(r, a, "amount")?;
        if amount.0 == 0 {
            r.error(a.span(), "amount", "must be more than 0");
            return None;
        }
        return Some(Discount::Amount { amount, min_order });
    }
    match &o.free_shipping {
        Some(f) if *f.get_ref() => Some(Discount::FreeShipping { min_order }),
        Some(f) => {
            r.error(
                f.span(),
                "free_shipping",
                "set free_shipping = true, or give percent or amount",
            );
            None
        }
        None => None,
    }
}
