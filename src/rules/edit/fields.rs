//! An offer's and a pool's form fields as the merchant typed them, the type errors caught before
//! the loader's checks ("20x" is not a percentage), the TOML values they become, and where the
//! loader's field paths (`limit.claims`) are shown on the form.

use toml_edit::{Array, Datetime, InlineTable, Item, Table, Value};

use crate::rules::Money;

/// The operators a condition row offers, as the loader names them.
pub const OPERATORS: &[(&str, &str)] = &[
    ("equals", "equals"),
    ("one_of", "is one of (comma-separated)"),
    ("exists", "is present (true) or absent (false)"),
    ("before", "is a date before"),
    ("after", "is a date after"),
];

/// Empty condition rows a form offers below the offer's own (no script adds rows).
pub const BLANK_CONDITIONS: usize = 2;

/// A message for one form field, by the field's name (also its element id, `offer-<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// One `when` test: `attribute` `op` `value`, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConditionRow {
    pub attribute: String,
    pub op: String,
    pub value: String,
}

/// Every field of an offer, as text: read from the document or typed into the form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferFields {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Group handles, documented ones and an app's own.
    pub groups: Vec<String>,
    pub subgroups: Vec<String>,
    pub conditions: Vec<ConditionRow>,
    /// `percent`, `amount` or `free_shipping`.
    pub discount: String,
    pub percent: String,
    pub amount: String,
    pub cap: String,
    pub min_order: String,
    /// `static`, `pool`, `generated` or `none`.
    pub code: String,
    pub code_static: String,
    pub code_pool: String,
    pub code_prefix: String,
    pub code_length: String,
    pub starts: String,
    pub ends: String,
    pub limit_claims: String,
    pub limit_days: String,
    pub total_cap: String,
    pub priority: String,
}

/// A pool's fields, as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolFields {
    pub id: String,
    pub low_threshold: String,
    pub seed: String,
}

/// Comma-separated names, trimmed, empty ones dropped, each once.
pub fn split_list(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o == part) {
            out.push(part.to_owned());
        }
    }
    out
}

impl OfferFields {
    /// The posted form: checkboxes repeat their name (`group`, `subgroup`), free text adds
    /// others (`other_groups`, `other_subgroups`), condition rows are `cond_<field>_<n>`.
    pub fn from_form(pairs: &[(String, String)]) -> Self {
        let mut f = Self::default();
        let mut rows: Vec<(usize, ConditionRow)> = Vec::new();
        let mut other_groups = String::new();
        let mut other_subgroups = String::new();
        for (name, value) in pairs {
            let value = value.replace("\r\n", "\n");
            let slot = match name.as_str() {
                "id" => &mut f.id,
                "title" => &mut f.title,
                "description" => &mut f.description,
                "group" => {
                    push_once(&mut f.groups, value.trim());
                    continue;
                }
                "subgroup" => {
                    push_once(&mut f.subgroups, value.trim());
                    continue;
                }
                "other_groups" => &mut other_groups,
                "other_subgroups" => &mut other_subgroups,
                "discount" => &mut f.discount,
                "percent" => &mut f.percent,
                "amount" => &mut f.amount,
                "cap" => &mut f.cap,
                "min_order" => &mut f.min_order,
                "code" => &mut f.code,
                "code_static" => &mut f.code_static,
                "code_pool" => &mut f.code_pool,
                "code_prefix" => &mut f.code_prefix,
                "code_length" => &mut f.code_length,
                "starts" => &mut f.starts,
                "ends" => &mut f.ends,
                "limit_claims" => &mut f.limit_claims,
                "limit_days" => &mut f.limit_days,
                "total_cap" => &mut f.total_cap,
                "priority" => &mut f.priority,
                other => {
                    if let Some((part, n)) = other
                        .strip_prefix("cond_")
                        .and_then(|r| r.rsplit_once('_'))
                        .and_then(|(part, n)| Some((part, n.parse::<usize>().ok()?)))
                    {
                        let row = match rows.iter().position(|(i, _)| *i == n) {
                            Some(i) => &mut rows[i].1,
                            None => {
                                rows.push((n, ConditionRow::default()));
                                let last = rows.len() - 1;
                                &mut rows[last].1
                            }
                        };
                        match part {
                            "attribute" => row.attribute = value.trim().to_owned(),
                            "op" => row.op = value.trim().to_owned(),
                            "value" => row.value = value.trim().to_owned(),
                            _ => {}
                        }
                    }
                    continue;
                }
            };
            *slot = value.trim().to_owned();
        }
        for g in split_list(&other_groups) {
            push_once(&mut f.groups, &g);
        }
        for s in split_list(&other_subgroups) {
            push_once(&mut f.subgroups, &s);
        }
        rows.sort_by_key(|(n, _)| *n);
        f.conditions = rows
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| !(r.attribute.is_empty() && r.value.is_empty()))
            .collect();
        f
    }

    /// The values each of the offer's keys gets, in the order a new offer writes them, or the
    /// type errors that stop it (the loader checks the rest: ranges, pools, contradictions).
    pub fn values(&self) -> Result<Vec<(&'static str, Option<Item>)>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.id == "new" {
            errors.push(err(
                "id",
                "\"new\" names the console's page for a new offer: choose another id",
            ));
        }
        let mut out: Vec<(&'static str, Option<Item>)> = vec![
            ("id", Some(string(&self.id))),
            ("title", Some(string(&self.title))),
            (
                "description",
                (!self.description.is_empty()).then(|| string(&self.description)),
            ),
            ("groups", Some(strings(&self.groups))),
            (
                "subgroups",
                (!self.subgroups.is_empty()).then(|| strings(&self.subgroups)),
            ),
        ];
        let kind = self.discount.as_str();
        let percent = match kind {
            "percent" => whole(
                &self.percent,
                "percent",
                "a whole number such as 20",
                &mut errors,
            ),
            _ => None,
        };
        let amount = match kind {
            "amount" => money(&self.amount, "amount", true, &mut errors),
            _ => None,
        };
        if !matches!(kind, "percent" | "amount" | "free_shipping") {
            errors.push(err(
                "discount",
                "Choose what the shopper gets: a percentage, an amount or free shipping",
            ));
        }
        out.push(("percent", percent));
        out.push(("amount", amount));
        out.push((
            "free_shipping",
            (kind == "free_shipping").then(|| Item::Value(Value::from(true))),
        ));
        // Written even beside another kind of discount, so the loader says why it is wrong
        // rather than the form dropping what was typed.
        out.push(("cap", money(&self.cap, "cap", false, &mut errors)));
        out.push((
            "min_order",
            money(&self.min_order, "min_order", false, &mut errors),
        ));
        out.push(("code", self.code_value(&mut errors)));
        out.push(("starts", date(&self.starts, "starts", &mut errors)));
        out.push(("ends", date(&self.ends, "ends", &mut errors)));
        out.push(("limit", self.limit_value(&mut errors)));
        out.push((
            "total_cap",
            optional_whole(&self.total_cap, "total_cap", &mut errors),
        ));
        out.push((
            "priority",
            optional_whole(&self.priority, "priority", &mut errors),
        ));
        out.push(("when", self.when_value(&mut errors)));
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    fn code_value(&self, errors: &mut Vec<FieldError>) -> Option<Item> {
        let mut t = InlineTable::new();
        match self.code.as_str() {
            "static" if self.code_static.is_empty() => {
                errors.push(err("code_static", "Enter the code every shopper gets"));
                return None;
            }
            "static" => return Some(string(&self.code_static)),
            "pool" if self.code_pool.is_empty() => {
                errors.push(err("code_pool", "Choose the pool the codes come from"));
                return None;
            }
            "pool" => {
                t.insert("pool", Value::from(self.code_pool.as_str()));
            }
            "generated" => {
                t.insert("prefix", Value::from(self.code_prefix.as_str()));
                let length = if self.code_length.is_empty() {
                    Some(Item::Value(Value::from(10)))
                } else {
                    whole(
                        &self.code_length,
                        "code_length",
                        "a whole number of characters such as 10",
                        errors,
                    )
                };
                t.insert("length", length?.into_value().ok()?);
            }
            "none" => {
                t.insert("none", Value::from(true));
            }
            _ => {
                errors.push(err("code", "Choose where the shopper's code comes from"));
                return None;
            }
        }
        Some(Item::Value(Value::InlineTable(t)))
    }

    fn limit_value(&self, errors: &mut Vec<FieldError>) -> Option<Item> {
        match (self.limit_claims.is_empty(), self.limit_days.is_empty()) {
            (true, true) => None,
            (false, true) => {
                errors.push(err(
                    "limit_days",
                    "Enter the number of days the limit counts claims over, or clear both",
                ));
                None
            }
            (true, false) => {
                errors.push(err(
                    "limit_claims",
                    "Enter how many claims a person may make, or clear both",
                ));
                None
            }
            (false, false) => {
                let claims = whole(
                    &self.limit_claims,
                    "limit_claims",
                    "a whole number such as 1",
                    errors,
                );
                let days = whole(
                    &self.limit_days,
                    "limit_days",
                    "a whole number of days such as 30",
                    errors,
                );
                let mut t = InlineTable::new();
                t.insert("claims", claims?.into_value().ok()?);
                t.insert("per_days", days?.into_value().ok()?);
                Some(Item::Value(Value::InlineTable(t)))
            }
        }
    }

    /// `when`, a dotted table (`when.attr = { op = value }`) as the example writes it.
    fn when_value(&self, errors: &mut Vec<FieldError>) -> Option<Item> {
        let mut when = Table::new();
        when.set_dotted(true);
        for (i, row) in self.conditions.iter().enumerate() {
            let field = format!("cond-{i}-value");
            if row.attribute.is_empty() {
                errors.push(err(
                    &format!("cond-{i}-attribute"),
                    "Enter the attribute's handle, such as military_branch",
                ));
                continue;
            }
            let value = match row.op.as_str() {
                "equals" => Value::from(row.value.as_str()),
                "one_of" => {
                    let items = split_list(&row.value);
                    if items.is_empty() {
                        errors.push(err(&field, "Enter the values, separated by commas"));
                        continue;
                    }
                    Value::Array(items.iter().map(String::as_str).collect::<Array>())
                }
                "exists" => match row.value.as_str() {
                    "true" => Value::from(true),
                    "false" => Value::from(false),
                    _ => {
                        errors.push(err(
                            &field,
                            "Enter true (the attribute is present) or false (it is absent)",
                        ));
                        continue;
                    }
                },
                "before" | "after" => match row.value.parse::<Datetime>() {
                    Ok(d) => Value::from(d),
                    Err(_) => {
                        errors.push(err(&field, DATE_HINT));
                        continue;
                    }
                },
                _ => {
                    errors.push(err(&format!("cond-{i}-op"), "Choose a test"));
                    continue;
                }
            };
            let entry = when
                .entry(&row.attribute)
                .or_insert_with(|| Item::Value(Value::InlineTable(InlineTable::new())));
            match entry.as_inline_table_mut() {
                Some(t) if t.contains_key(&row.op) => errors.push(err(
                    &field,
                    format!("{} {} is given twice", row.attribute, row.op),
                )),
                Some(t) => {
                    t.insert(&row.op, value);
                }
                None => {}
            }
        }
        (!when.is_empty()).then_some(Item::Table(when))
    }

    /// The form field a loader problem with this field path is shown next to.
    pub fn field_of(&self, path: &str) -> Option<String> {
        let simple = match path {
            "id" | "title" | "groups" | "subgroups" | "amount" | "cap" | "min_order" | "code"
            | "starts" | "ends" | "total_cap" | "priority" => path,
            // The loader names `percent` for an offer without (or with several) discounts.
            "percent" if self.discount == "percent" => "percent",
            "percent" | "free_shipping" => "discount",
            "code.pool" => "code_pool",
            "code.prefix" => "code_prefix",
            "code.length" => "code_length",
            "limit.claims" => "limit_claims",
            "limit.per_days" => "limit_days",
            // `title.en`, `description.fr-CA`: the form edits the default, beside it.
            p if p.starts_with("title.") => "title",
            p if p.starts_with("description.") => "description",
            _ => "",
        };
        if !simple.is_empty() {
            return Some(simple.to_owned());
        }
        let rest = path.strip_prefix("when.")?;
        let (attribute, op) = match rest.rsplit_once('.') {
            Some((a, op)) if OPERATORS.iter().any(|(o, _)| *o == op) => (a, Some(op)),
            _ => (rest, None),
        };
        let row = self
            .conditions
            .iter()
            .position(|r| r.attribute == attribute && op.is_none_or(|op| r.op == op))?;
        Some(format!("cond-{row}-value"))
    }
}

impl PoolFields {
    pub fn from_form(pairs: &[(String, String)]) -> Self {
        let mut f = Self::default();
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "id" => &mut f.id,
                "low_threshold" => &mut f.low_threshold,
                "seed" => &mut f.seed,
                _ => continue,
            };
            *slot = value.trim().to_owned();
        }
        f
    }

    /// The pool table's values, or the type errors that stop it.
    pub fn values(&self) -> Result<Vec<(&'static str, Option<Item>)>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.id.is_empty() {
            errors.push(err("id", "Enter the pool's name, such as veteran-codes"));
        }
        let low = optional_whole(&self.low_threshold, "low_threshold", &mut errors);
        if errors.is_empty() {
            Ok(vec![
                ("low_threshold", low),
                ("seed", (!self.seed.is_empty()).then(|| string(&self.seed))),
            ])
        } else {
            Err(errors)
        }
    }

    pub fn field_of(&self, path: &str) -> Option<String> {
        match path {
            "low_threshold" => Some("low_threshold".to_owned()),
            p if p.ends_with(".seed") => Some("seed".to_owned()),
            p if p.starts_with("pools.") => Some("id".to_owned()),
            _ => None,
        }
    }
}

const DATE_HINT: &str = "Enter a date such as 2026-12-31, or a date-time with an offset such as 2026-12-31T09:00:00-05:00";

fn push_once(list: &mut Vec<String>, value: &str) {
    if !value.is_empty() && !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
    }
}

fn string(s: &str) -> Item {
    Item::Value(Value::from(s))
}

fn strings(list: &[String]) -> Item {
    Item::Value(Value::Array(list.iter().map(String::as_str).collect()))
}

fn whole(s: &str, field: &str, example: &str, errors: &mut Vec<FieldError>) -> Option<Item> {
    match s.parse::<i64>() {
        Ok(n) => Some(Item::Value(Value::from(n))),
        Err(_) if s.is_empty() => {
            errors.push(err(field, format!("Enter {example}")));
            None
        }
        Err(_) => {
            errors.push(err(field, format!("Enter {example}, not {s:?}")));
            None
        }
    }
}

fn optional_whole(s: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<Item> {
    if s.is_empty() {
        return None;
    }
    whole(s, field, "a whole number", errors)
}

/// An amount as the example writes it: a string with two decimals ("15.00").
fn money(s: &str, field: &str, required: bool, errors: &mut Vec<FieldError>) -> Option<Item> {
    if s.is_empty() {
        if required {
            errors.push(err(field, "Enter an amount such as 15.00"));
        }
        return None;
    }
    match Money::parse(s.trim_start_matches(['$', '€', '£'])) {
        Some(m) => Some(string(&format!("{}.{:02}", m.0 / 100, m.0 % 100))),
        None => {
            errors.push(err(
                field,
                format!(
                    "Enter an amount such as 15.00 (not negative, at most two decimals), not {s:?}"
                ),
            ));
            None
        }
    }
}

fn date(s: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<Item> {
    if s.is_empty() {
        return None;
    }
    match s.parse::<Datetime>() {
        Ok(d) => Some(Item::Value(Value::from(d))),
        Err(_) => {
            errors.push(err(field, DATE_HINT));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn military() -> Vec<(String, String)> {
        pairs(&[
            ("csrf", "t"),
            ("id", " military "),
            ("title", "Military: 15% off"),
            ("group", "military"),
            ("group", "military"),
            ("other_groups", "navy_league, ,"),
            ("subgroup", "Veteran"),
            ("other_subgroups", "Retiree"),
            ("discount", "percent"),
            ("percent", "15"),
            ("code", "static"),
            ("code_static", "SALUTE15"),
            ("cond_attribute_1", "military_branch"),
            ("cond_op_1", "one_of"),
            ("cond_value_1", "Navy, Army"),
            ("cond_attribute_0", "alumni_graduation_date"),
            ("cond_op_0", "after"),
            ("cond_value_0", "1990-01-01"),
            ("cond_attribute_2", ""),
            ("cond_op_2", "equals"),
            ("cond_value_2", ""),
        ])
    }

    fn rendered(values: &[(&'static str, Option<Item>)]) -> Vec<String> {
        values
            .iter()
            .filter_map(|(k, v)| {
                v.as_ref()
                    .map(|v| format!("{k} = {}", v.to_string().trim()))
            })
            .collect()
    }

    #[test]
    fn a_form_becomes_the_offer_keys_in_order() {
        let f = OfferFields::from_form(&military());
        assert_eq!(f.id, "military");
        assert_eq!(f.groups, ["military", "navy_league"]);
        assert_eq!(f.subgroups, ["Veteran", "Retiree"]);
        assert_eq!(f.conditions.len(), 2, "the empty row is dropped");
        assert_eq!(f.conditions[0].attribute, "alumni_graduation_date");
        let values = f.values().unwrap();
        assert_eq!(
            rendered(&values),
            [
                "id = \"military\"",
                "title = \"Military: 15% off\"",
                "groups = [\"military\", \"navy_league\"]",
                "subgroups = [\"Veteran\", \"Retiree\"]",
                "percent = 15",
                "code = \"SALUTE15\"",
                "when = alumni_graduation_date = { after = 1990-01-01 }\nmilitary_branch = { one_of = [\"Navy\", \"Army\"] }",
            ]
        );
    }

    #[test]
    fn type_errors_name_their_field_and_what_was_typed() {
        let mut form = military();
        form.retain(|(k, _)| k != "percent" && k != "code_static");
        form.extend(pairs(&[
            ("percent", "20x"),
            ("cap", "1,00"),
            ("ends", "31/12/2026"),
            ("limit_claims", "1"),
            ("total_cap", "many"),
            ("cond_attribute_3", "military_status"),
            ("cond_op_3", "exists"),
            ("cond_value_3", "yes"),
        ]));
        let errors = OfferFields::from_form(&form).values().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "percent",
                "cap",
                "code_static",
                "ends",
                "limit_days",
                "total_cap",
                "cond-2-value"
            ]
        );
        assert_eq!(
            errors[0].message,
            "Enter a whole number such as 20, not \"20x\""
        );
    }

    #[test]
    fn each_kind_of_discount_and_code() {
        let base = |extra: &[(&str, &str)]| {
            let mut p = pairs(&[("id", "a"), ("title", "A"), ("group", "student")]);
            p.extend(pairs(extra));
            rendered(&OfferFields::from_form(&p).values().unwrap())
        };
        let v = base(&[
            ("discount", "amount"),
            ("amount", "$15"),
            ("min_order", "75"),
            ("code", "generated"),
            ("code_prefix", "TEACH-"),
            ("limit_claims", "2"),
            ("limit_days", "365"),
            ("starts", "2026-01-01T09:00:00-05:00"),
            ("priority", "-1"),
        ]);
        assert!(v.contains(&"amount = \"15.00\"".to_owned()), "{v:?}");
        assert!(v.contains(&"min_order = \"75.00\"".to_owned()));
        assert!(v.contains(&"code = { prefix = \"TEACH-\", length = 10 }".to_owned()));
        assert!(v.contains(&"limit = { claims = 2, per_days = 365 }".to_owned()));
        assert!(v.contains(&"starts = 2026-01-01T09:00:00-05:00".to_owned()));
        assert!(v.contains(&"priority = -1".to_owned()));
        let v = base(&[("discount", "free_shipping"), ("code", "none")]);
        assert!(v.contains(&"free_shipping = true".to_owned()));
        assert!(v.contains(&"code = { none = true }".to_owned()));
        let v = base(&[
            ("discount", "percent"),
            ("percent", "5"),
            ("code", "pool"),
            ("code_pool", "p"),
        ]);
        assert!(v.contains(&"code = { pool = \"p\" }".to_owned()));
        let p = pairs(&[("id", "new"), ("title", "A")]);
        let errors = OfferFields::from_form(&p).values().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "discount", "code"]);
    }

    #[test]
    fn loader_paths_map_to_form_fields() {
        let f = OfferFields::from_form(&military());
        assert_eq!(f.field_of("percent").as_deref(), Some("percent"));
        assert_eq!(f.field_of("limit.per_days").as_deref(), Some("limit_days"));
        assert_eq!(f.field_of("code.pool").as_deref(), Some("code_pool"));
        assert_eq!(
            f.field_of("when.military_branch").as_deref(),
            Some("cond-1-value")
        );
        assert_eq!(
            f.field_of("when.alumni_graduation_date.after").as_deref(),
            Some("cond-0-value")
        );
        assert_eq!(f.field_of("when.other"), None);
        assert_eq!(f.field_of("currency"), None);
        let amount = OfferFields {
            discount: "amount".into(),
            ..f
        };
        assert_eq!(amount.field_of("percent").as_deref(), Some("discount"));
        let pool = PoolFields::default();
        assert_eq!(pool.field_of("pools.Bad").as_deref(), Some("id"));
        assert_eq!(pool.field_of("pools.p.seed").as_deref(), Some("seed"));
        assert_eq!(
            PoolFields::from_form(&pairs(&[("id", "p"), ("low_threshold", "-")]))
                .values()
                .unwrap_err()[0]
                .field,
            "low_threshold"
        );
    }
}
