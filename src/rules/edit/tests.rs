//! Unit tests of editing the document through the forms' fields: only what changed changes.

use super::*;
use crate::rules::{EXAMPLE_RULES, diff, parse};

fn changed_lines(from: &str, to: &str) -> Vec<String> {
    diff::lines(from, to)
        .iter()
        .filter(|l| !matches!(l, diff::Line::Same(_)))
        .map(|l| format!("{}{}", l.sign(), l.text()))
        .collect()
}

#[test]
fn every_example_offer_reads_and_writes_back_unchanged() {
    let mut doc = Document::parse(EXAMPLE_RULES).unwrap();
    let rows = doc.offer_rows();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0].discount, "20% off");
    assert_eq!(rows[0].code, "codes from pool veteran-codes");
    for row in rows {
        let fields = doc.offer(&row.id).unwrap();
        doc.set_offer(Some(&row.id), &fields).unwrap();
    }
    let pools = doc.pool_rows();
    assert_eq!(pools[0].low_threshold, "10");
    doc.set_pool(Some("veteran-codes"), &pools[0]).unwrap();
    assert_eq!(
        doc.text(),
        EXAMPLE_RULES,
        "nothing changed, nothing rewritten"
    );
}

#[test]
fn a_changed_field_changes_its_line_alone_and_keeps_its_comment() {
    let mut doc = Document::parse(EXAMPLE_RULES).unwrap();
    let mut military = doc.offer("military").unwrap();
    assert_eq!(
        (military.discount.as_str(), military.percent.as_str()),
        ("percent", "15")
    );
    military.percent = "20".into();
    doc.set_offer(Some("military"), &military).unwrap();
    assert_eq!(
        changed_lines(EXAMPLE_RULES, &doc.text()),
        ["-percent = 15", "+percent = 20"]
    );
    let mut veterans = doc.offer("veterans").unwrap();
    assert_eq!(veterans.subgroups, ["Veteran", "Retiree"]);
    veterans.cap = "50".into();
    veterans.limit_days = "60".into();
    veterans.conditions.push(ConditionRow {
        attribute: "military_branch".into(),
        op: "one_of".into(),
        value: "Navy, Army".into(),
    });
    doc.set_offer(Some("veterans"), &veterans).unwrap();
    let text = doc.text();
    assert_eq!(
        changed_lines(&doc_after_military(), &text),
        [
            "-cap = \"100.00\"                        # at most $100 off",
            "+cap = \"50.00\"                        # at most $100 off",
            "-limit = { claims = 1, per_days = 30 }",
            "+limit = { claims = 1, per_days = 60 }",
            "+when.military_branch = { one_of = [\"Navy\", \"Army\"] }",
        ]
    );
    let rules = parse("r.toml", &text, None).unwrap().rules;
    assert_eq!(rules.offer("veterans").unwrap().when.len(), 1);
}

fn doc_after_military() -> String {
    EXAMPLE_RULES.replacen("percent = 15", "percent = 20", 1)
}

#[test]
fn conditions_and_kinds_of_discount_can_be_replaced() {
    let mut doc = Document::parse(EXAMPLE_RULES).unwrap();
    let mut alumni = doc.offer("state-alumni").unwrap();
    assert_eq!(alumni.conditions.len(), 2);
    assert_eq!(alumni.conditions[1].value, "1990-01-01");
    alumni.conditions.remove(1);
    alumni.discount = "percent".into();
    alumni.percent = "5".into();
    alumni.code = "static".into();
    alumni.code_static = "STATE5".into();
    doc.set_offer(Some("state-alumni"), &alumni).unwrap();
    let o = parse("r.toml", &doc.text(), None).unwrap().rules;
    let o = o.offer("state-alumni").unwrap();
    assert_eq!(o.when.len(), 1);
    assert_eq!(o.code, crate::rules::CodeSource::Static("STATE5".into()));
    assert!(!doc.text().contains("free_shipping = true"));
}

#[test]
fn new_offers_go_last_and_removed_ones_take_their_comments() {
    let mut doc = Document::parse(EXAMPLE_RULES).unwrap();
    let mut new = doc.offer("nurses").unwrap();
    new.id = "nurses".into();
    assert!(matches!(
        doc.set_offer(None, &new),
        Err(FieldsOrEdit::Fields(e)) if e[0].field == "id"
    ));
    new.id = "medics".into();
    new.groups = vec!["medical".into()];
    doc.set_offer(None, &new).unwrap();
    assert!(
        doc.text().ends_with(
            "\n[[offers]]\nid = \"medics\"\ntitle = \"Nurses: 10% off\"\ndescription = \"For licensed nurses.\"\ngroups = [\"medical\"]\npercent = 10\ncode = \"CARE10\"\n"
        ),
        "{}",
        doc.text()
    );
    doc.remove_offer("teachers").unwrap();
    let text = doc.text();
    assert!(!text.contains("Teachers: a unique generated code") && !text.contains("TEACH-"));
    assert!(
        text.contains("# First responders:"),
        "the next offer's comment stays"
    );
    assert_eq!(parse("r.toml", &text, None).unwrap().rules.offers.len(), 7);
    assert_eq!(doc.remove_offer("teachers"), Err(EditError::NotFound));
}

#[test]
fn pools_are_renamed_with_their_users_and_removed_only_when_unused() {
    let mut doc = Document::parse(EXAMPLE_RULES).unwrap();
    assert_eq!(
        doc.remove_pool("veteran-codes"),
        Err(EditError::InUse(vec!["veterans".into()]))
    );
    let mut pool = doc.pool("veteran-codes").unwrap();
    pool.id = "vet-codes".into();
    pool.low_threshold = "25".into();
    doc.set_pool(Some("veteran-codes"), &pool).unwrap();
    let text = doc.text();
    assert_eq!(
        changed_lines(EXAMPLE_RULES, &text),
        [
            "-[pools.veteran-codes]",
            "-low_threshold = 10",
            "+[pools.vet-codes]",
            "+low_threshold = 25",
            "-code = { pool = \"veteran-codes\" }",
            "+code = { pool = \"vet-codes\" }",
        ]
    );
    parse("r.toml", &text, None).unwrap();
    doc.set_pool(
        None,
        &PoolFields {
            id: "spare".into(),
            low_threshold: String::new(),
            seed: String::new(),
        },
    )
    .unwrap();
    assert!(doc.text().contains("[pools.spare]"));
    doc.remove_pool("spare").unwrap();
    assert_eq!(doc.text(), text);
}

#[test]
fn loader_problems_go_next_to_the_edited_offers_fields() {
    let mut doc = Document::parse(EXAMPLE_RULES).unwrap();
    let mut military = doc.offer("military").unwrap();
    military.percent = "150".into();
    military.limit_claims = "0".into();
    military.limit_days = "30".into();
    doc.set_offer(Some("military"), &military).unwrap();
    // Another offer broken before the edit: known, not the form's doing.
    let text = doc.text().replacen("code = \"STUDY10\"", "code = \"\"", 1);
    let known = parse(
        "r.toml",
        &EXAMPLE_RULES.replacen("code = \"STUDY10\"", "code = \"\"", 1),
        None,
    )
    .unwrap_err();
    let errors = parse("r.toml", &text, None).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let placed = place(&text, Target::Offer(&military), &errors, &known);
    assert_eq!(
        placed.fields,
        [
            FieldError {
                field: "percent".into(),
                message: "must be from 1 to 100, got 150".into()
            },
            FieldError {
                field: "limit_claims".into(),
                message: "an offer no one can ever get: limit.claims is 0".into()
            },
        ]
    );
    assert!(placed.others.is_empty(), "{:?}", placed.others);
    let placed = place(&text, Target::Offer(&military), &errors, &[]);
    assert_eq!(placed.others.len(), 1);
    assert_eq!(placed.others[0].field.as_deref(), Some("code"));
}

#[test]
fn a_document_that_is_not_toml_is_not_edited() {
    assert!(matches!(
        Document::parse("[[offers]\n"),
        Err(EditError::Syntax(_))
    ));
    assert!(matches!(
        Document::parse("offers = [{ id = \"a\" }]\n"),
        Err(EditError::Shape(_))
    ));
}

#[test]
fn the_store_table_is_written_in_place() {
    let text = "# The shop\n[store]\nname = \"Acme\" # shown in the header\ncolor = \"#0b6e4f\"\n\n[[offers]]\nid = \"a\"\n";
    let mut doc = Document::parse(text).unwrap();
    let store = doc.store();
    assert_eq!(store[0], ("name", "Acme".to_owned()));
    assert_eq!(store[3], ("color", "#0b6e4f".to_owned()));
    let mut values = store.clone();
    values[0].1 = "Acme Outfitters".to_owned();
    values[3].1 = String::new();
    values[6].1 = "help@shop.example".to_owned();
    doc.set_store(&values);
    let out = doc.text();
    assert!(
        out.contains("name = \"Acme Outfitters\" # shown in the header"),
        "{out}"
    );
    assert!(!out.contains("color"), "{out}");
    assert!(out.contains("support = \"help@shop.example\""), "{out}");
    assert!(out.starts_with("# The shop\n[store]\n"), "{out}");

    let mut none = Document::parse("[[offers]]\nid = \"a\"\n").unwrap();
    none.set_store(&[("name", String::new())]);
    assert_eq!(
        none.text(),
        "[[offers]]\nid = \"a\"\n",
        "nothing to write, nothing written"
    );
    none.set_store(&[("name", "Acme".to_owned())]);
    assert!(
        none.text().contains("[store]\nname = \"Acme\""),
        "{}",
        none.text()
    );
    none.set_store(&[("name", String::new())]);
    assert!(!none.text().contains("store"), "an empty table is dropped");
}

#[test]
fn the_form_edits_the_default_of_a_translated_title_and_keeps_the_translations() {
    let text = "[[offers]]\nid = \"a\"\ntitle.en = \"A\" # default\ntitle.fr-CA = \"A fr\"\n\
                description = { en = \"D\", es = \"D es\" }\ngroups = [\"military\"]\npercent = 10\ncode = \"X\"\n";
    let mut doc = Document::parse(text).unwrap();
    let mut a = doc.offer("a").unwrap();
    assert_eq!((a.title.as_str(), a.description.as_str()), ("A", "D"));
    doc.set_offer(Some("a"), &a).unwrap();
    assert_eq!(doc.text(), text, "unchanged: untouched");
    a.title = "B".into();
    a.description = "E".into();
    doc.set_offer(Some("a"), &a).unwrap();
    assert_eq!(
        changed_lines(text, &doc.text()),
        [
            "-title.en = \"A\" # default",
            "+title.en = \"B\" # default",
            "-description = { en = \"D\", es = \"D es\" }",
            "+description = { en = \"E\", es = \"D es\" }",
        ]
    );
    let rules = parse("r.toml", &doc.text(), None).unwrap().rules;
    let offer = &rules.offers[0];
    assert_eq!(offer.title_in(crate::i18n::Locale::FrCa), "A fr");
    assert_eq!(offer.title, "B");

    // Emptying the default description of a translated one: the loader says what is missing,
    // next to the form's description field.
    a.description.clear();
    doc.set_offer(Some("a"), &a).unwrap();
    let errors = parse("r.toml", &doc.text(), None).map(|_| ()).unwrap_err();
    assert_eq!(errors[0].field.as_deref(), Some("description.en"));
    assert_eq!(a.field_of("description.en").as_deref(), Some("description"));
}
