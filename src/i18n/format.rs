//! Money and dates as each locale writes them. Small tables rather than ICU: three locales,
//! a handful of currencies, and no data files to build.

use super::Locale;
use crate::rules::Money;

/// "$100.00" (en, as the console writes it too), "100,00 $" (fr-CA, Canadian dollars; other
/// dollars say whose: "100,00 $ US"), "100,00 US$" (es).
pub fn money(amount: Money, currency: &str, locale: Locale) -> String {
    if locale == Locale::En {
        return amount.display(currency);
    }
    let (whole, cents) = (amount.0 / 100, amount.0 % 100);
    let number = match locale {
        // Grouped by a no-break space from four digits (OQLF); Spanish groups by a dot from
        // five (CLDR's minimum grouping digits), so "1000,00" but "10.000,00".
        Locale::FrCa => format!("{},{cents:02}", grouped(whole, '\u{a0}', 4)),
        _ => format!("{},{cents:02}", grouped(whole, '.', 5)),
    };
    let symbol = match (locale, currency) {
        (Locale::FrCa, "CAD") => "$",
        (Locale::FrCa, "USD") => "$\u{a0}US",
        (Locale::FrCa, "AUD") => "$\u{a0}AU",
        (Locale::FrCa, "NZD") => "$\u{a0}NZ",
        (_, "USD") => "US$",
        (_, "CAD") => "CA$",
        (_, "AUD") => "AU$",
        (_, "NZD") => "NZ$",
        (_, "EUR") => "€",
        (_, "GBP") => "£",
        (_, other) => other,
    };
    format!("{number}\u{a0}{symbol}")
}

fn grouped(n: i64, sep: char, from_digits: usize) -> String {
    let digits = n.to_string();
    if digits.len() < from_digits {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 2);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

const MOIS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

const MESES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// A day (UTC) as the shopper reads it: "2030-12-31" (en, unchanged: unambiguous), "31 décembre
/// 2030" and "1er janvier 2031" (fr-CA), "31 de diciembre de 2030" (es).
pub fn date(unix: i64, locale: Locale) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return crate::rules::date(unix);
    };
    let month = usize::from(u8::from(t.month())) - 1;
    match locale {
        Locale::En => crate::rules::date(unix),
        Locale::FrCa => {
            let day = match t.day() {
                1 => "1er".to_owned(),
                d => d.to_string(),
            };
            format!("{day} {} {}", MOIS[month], t.year())
        }
        Locale::Es => format!("{} de {} de {}", t.day(), MESES[month], t.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_per_locale() {
        let m = Money(10_000);
        assert_eq!(money(m, "USD", Locale::En), "$100.00");
        assert_eq!(money(m, "CAD", Locale::FrCa), "100,00\u{a0}$");
        assert_eq!(money(m, "USD", Locale::FrCa), "100,00\u{a0}$\u{a0}US");
        assert_eq!(money(m, "EUR", Locale::FrCa), "100,00\u{a0}€");
        assert_eq!(money(m, "USD", Locale::Es), "100,00\u{a0}US$");
        assert_eq!(money(m, "EUR", Locale::Es), "100,00\u{a0}€");
        assert_eq!(money(Money(5), "CHF", Locale::Es), "0,05\u{a0}CHF");
        assert_eq!(
            money(Money(123_456_789), "CAD", Locale::FrCa),
            "1\u{a0}234\u{a0}567,89\u{a0}$"
        );
        assert_eq!(money(Money(100_000), "EUR", Locale::Es), "1000,00\u{a0}€");
        assert_eq!(
            money(Money(1_000_000), "EUR", Locale::Es),
            "10.000,00\u{a0}€"
        );
        assert_eq!(money(Money(99_900), "CAD", Locale::FrCa), "999,00\u{a0}$");
    }

    #[test]
    fn dates_per_locale() {
        let eve = 1_924_905_600; // 2030-12-31
        assert_eq!(date(eve, Locale::En), "2030-12-31");
        assert_eq!(date(eve, Locale::FrCa), "31 décembre 2030");
        assert_eq!(date(eve, Locale::Es), "31 de diciembre de 2030");
        let new_year = eve + 86_400;
        assert_eq!(date(new_year, Locale::FrCa), "1er janvier 2031");
        assert_eq!(date(new_year, Locale::Es), "1 de enero de 2031");
        assert_eq!(date(1_786_147_200, Locale::FrCa), "8 août 2026");
    }
}
