use std::collections::BTreeSet;
use std::time::Duration;

use fluent_bundle::FluentResource;
use fluent_syntax::ast::Entry;

use super::*;

fn ids(locale: Locale) -> BTreeSet<String> {
    let resource = match FluentResource::try_new(locale.source().to_owned()) {
        Ok(r) => r,
        Err((_, errors)) => panic!("{}: syntax errors {errors:?}", locale.tag()),
    };
    resource
        .entries()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m.id.name.to_owned()),
            Entry::Term(t) => Some(format!("-{}", t.id.name)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_catalog_has_every_id_the_code_uses_and_no_other() {
    let used: BTreeSet<String> = all_ids().collect();
    let english = ids(Locale::En);
    assert_eq!(
        english.difference(&used).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in the English catalog but used nowhere"
    );
    for locale in Locale::ALL {
        let theirs = ids(locale);
        let missing: Vec<_> = english.difference(&theirs).collect();
        let extra: Vec<_> = theirs.difference(&english).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: missing {missing:?}, extra {extra:?}",
            locale.tag()
        );
        assert_eq!(problems(locale), Vec::<String>::new(), "{}", locale.tag());
    }
}

#[test]
fn every_message_formats_without_errors_with_its_arguments() {
    let args: Vec<(&'static str, FluentValue<'static>)> = [
        "date",
        "duration",
        "offer",
        "reason",
        "communities",
        "cap",
        "amount",
        "min",
        "head",
        "wait",
    ]
    .into_iter()
    .map(|n| (n, FluentValue::from("x")))
    .chain([("n", 2.into()), ("percent", 15.into())])
    .collect();
    let mut fa = FluentArgs::new();
    for (k, v) in &args {
        fa.set(*k, v.clone());
    }
    for locale in Locale::ALL {
        let bundle = &catalog(locale).bundle;
        for msg in Msg::ALL {
            let pattern = bundle.get_message(msg.id()).and_then(|m| m.value());
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern.unwrap(), Some(&fa), &mut errors);
            assert!(
                errors.is_empty(),
                "{} {}: {errors:?}",
                locale.tag(),
                msg.id()
            );
            assert!(!text.trim().is_empty());
        }
    }
}

#[test]
fn plurals_and_arguments_per_language() {
    let en = catalog(Locale::En);
    assert_eq!(en.duration(Duration::from_secs(600)), "10 minutes");
    assert_eq!(en.duration(Duration::from_secs(60)), "1 minute");
    assert_eq!(en.duration(Duration::from_secs(90)), "90 seconds");
    assert_eq!(en.duration(Duration::from_secs(1)), "1 second");
    let fr = catalog(Locale::FrCa);
    assert_eq!(fr.duration(Duration::from_secs(60)), "1\u{a0}minute");
    assert_eq!(fr.duration(Duration::from_secs(120)), "2\u{a0}minutes");
    let es = catalog(Locale::Es);
    assert_eq!(es.duration(Duration::from_secs(1)), "1 segundo");
    assert_eq!(
        es.say(
            Msg::ValidUntil,
            &[("date", "31 de diciembre de 2030".into())]
        ),
        "Válido hasta el 31 de diciembre de 2030."
    );
    assert_eq!(
        fr.say(Msg::DiscountPercent, &[("percent", 15.into())]),
        "15\u{a0}% de rabais"
    );
    assert_eq!(fr.community("responder"), Some("Premiers répondants"));
    assert_eq!(es.persona("veteran"), Some("Veterano militar"));
    assert_eq!(en.community("state_alumni"), None);
    assert_eq!(texts(Locale::FrCa).verify, "Vérifier avec ID.me");
    assert_eq!(texts(Locale::Es).locale, Locale::Es);
}

#[test]
fn tags_round_trip() {
    for l in Locale::ALL {
        assert_eq!(Locale::from_tag(l.tag()), Some(l));
    }
    assert_eq!(Locale::from_tag("FR-ca"), Some(Locale::FrCa));
    assert_eq!(Locale::from_tag("fr"), None);
    assert_eq!(Locale::from_tag("xx"), None);
}

#[test]
fn every_persona_and_documented_group_has_its_name_in_the_catalogs() {
    let en = catalog(Locale::En);
    for p in crate::sandbox::personas::PERSONAS {
        assert!(PERSONAS.contains(&p.id), "{}", p.id);
        // The console names personas in English from their own label: the same words.
        assert_eq!(en.persona(p.id), Some(p.label), "{}", p.id);
    }
    for g in crate::rules::KNOWN_GROUPS {
        assert!(COMMUNITIES.contains(g), "{g}");
    }
}
