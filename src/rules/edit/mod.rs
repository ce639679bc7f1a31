//! The console's forms edit the rules document in place: one offer's or one pool's keys are
//! rewritten, everything else (the merchant's comments, order, spacing, keys the form does not
//! know) stays as it was. A key whose value the form did not change is not touched at all, so
//! its trailing comment and way of writing survive; a changed value keeps its comment.
//!
//! Validation stays the loader's ([`crate::rules::parse`]): [`Placed`] sorts its problems into
//! those of the edited offer or pool (shown next to their form field) and the rest.

pub mod fields;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

pub use fields::{ConditionRow, FieldError, OfferFields, PoolFields};

use super::LoadError;
use crate::config::line_col;

/// Why a document cannot be edited through the forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditError {
    /// Not TOML at all: only the raw editor can mend it.
    Syntax(String),
    /// `offers` is not a list of `[[offers]]` tables (an inline array, say).
    Shape(&'static str),
    /// The offer or pool the address names is not in the document.
    NotFound,
    /// The id is taken by another offer or pool.
    Taken(String),
    /// The pool is still named by these offers.
    InUse(Vec<String>),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Syntax(why) => write!(
                f,
                "The draft is not valid TOML ({why}): mend it in the raw editor first."
            ),
            Self::Shape(why) => write!(f, "{why}: edit it in the raw editor."),
            Self::NotFound => f.write_str("There is no such offer or pool in the document."),
            Self::Taken(id) => write!(f, "{id:?} is already used: choose another."),
            Self::InUse(offers) => write!(
                f,
                "Offers {} take their codes from this pool: give them another code source first.",
                offers.join(", ")
            ),
        }
    }
}

/// A rules document open for editing.
pub struct Document {
    doc: DocumentMut,
}

/// An offer as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferRow {
    pub id: String,
    pub title: String,
    pub groups: String,
    pub discount: String,
    pub code: String,
}

impl Document {
    pub fn parse(text: &str) -> Result<Self, EditError> {
        let doc: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| EditError::Syntax(e.message().trim().to_owned()))?;
        let this = Self { doc };
        match this.doc.get("offers") {
            None | Some(Item::ArrayOfTables(_)) => {}
            Some(_) => {
                return Err(EditError::Shape(
                    "The offers are not written as [[offers]] tables",
                ));
            }
        }
        match this.doc.get("pools") {
            None => {}
            Some(p) if p.is_table() => {}
            Some(_) => {
                return Err(EditError::Shape(
                    "The pools are not written as [pools.NAME] tables",
                ));
            }
        }
        Ok(this)
    }

    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// The `[store]` table's fields (`shop::Look::FIELDS`) as text, "" where absent.
    pub fn store(&self) -> Vec<(&'static str, String)> {
        let table = self.doc.get("store").and_then(Item::as_table_like);
        crate::shop::Look::FIELDS
            .iter()
            .map(|&f| {
                let value = table
                    .and_then(|t| t.get(f))
                    .and_then(Item::as_str)
                    .unwrap_or_default();
                (f, value.to_owned())
            })
            .collect()
    }

    /// Writes the `[store]` table: a changed field is rewritten (keeping its comment), an
    /// emptied one removed, an unchanged one left as written; the table is made when needed
    /// and dropped when empty. Values are not checked here: the loader does that.
    pub fn set_store(&mut self, values: &[(&str, String)]) {
        if self.doc.get("store").is_none() {
            if values.iter().all(|(_, v)| v.trim().is_empty()) {
                return;
            }
            self.doc.insert("store", Item::Table(Table::new()));
        }
        let Some(table) = self.doc.get_mut("store").and_then(Item::as_table_like_mut) else {
            return;
        };
        for (field, value) in values {
            let value = value.trim();
            if value.is_empty() {
                table.remove(field);
                continue;
            }
            if table.get(field).and_then(Item::as_str) == Some(value) {
                continue;
            }
            let decor = table
                .get(field)
                .and_then(Item::as_value)
                .map(|v| v.decor().clone());
            let mut new = Value::from(value);
            if let Some(decor) = decor {
                *new.decor_mut() = decor;
            }
            table.insert(field, Item::Value(new));
        }
        if table.is_empty() {
            self.doc.remove("store");
        }
    }

    fn offers(&self) -> Option<&ArrayOfTables> {
        self.doc.get("offers").and_then(Item::as_array_of_tables)
    }

    fn offer_index(&self, id: &str) -> Option<usize> {
        self.offers()?
            .iter()
            .position(|t| t.get("id").and_then(Item::as_str) == Some(id))
    }

    pub fn offer_rows(&self) -> Vec<OfferRow> {
        self.offers()
            .map(|a| a.iter().map(|t| row(&read_offer(t))).collect())
            .unwrap_or_default()
    }

    pub fn offer(&self, id: &str) -> Option<OfferFields> {
        let i = self.offer_index(id)?;
        self.offers()?.get(i).map(read_offer)
    }

    /// Writes an offer's fields: over offer `id` (None: a new offer at the end). Only keys whose
    /// value changed against what the document holds are rewritten.
    pub fn set_offer(&mut self, id: Option<&str>, new: &OfferFields) -> Result<(), FieldsOrEdit> {
        let values = new.values().map_err(FieldsOrEdit::Fields)?;
        let taken = self.offer_index(&new.id);
        let index = match id {
            Some(id) => {
                let i = self
                    .offer_index(id)
                    .ok_or(FieldsOrEdit::Edit(EditError::NotFound))?;
                if taken.is_some_and(|t| t != i) {
                    return Err(FieldsOrEdit::taken(&new.id));
                }
                i
            }
            None => {
                if taken.is_some() {
                    return Err(FieldsOrEdit::taken(&new.id));
                }
                let offers = self
                    .doc
                    .entry("offers")
                    .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
                let Some(offers) = offers.as_array_of_tables_mut() else {
                    return Err(FieldsOrEdit::Edit(EditError::Shape("offers")));
                };
                let mut t = Table::new();
                t.decor_mut().set_prefix("\n");
                offers.push(t);
                offers.len() - 1
            }
        };
        let Some(table) = self
            .doc
            .get_mut("offers")
            .and_then(Item::as_array_of_tables_mut)
            .and_then(|a| a.get_mut(index))
        else {
            return Err(FieldsOrEdit::Edit(EditError::NotFound));
        };
        let before = read_offer(table).values().ok();
        write(table, before.as_deref(), &values);
        Ok(())
    }

    pub fn remove_offer(&mut self, id: &str) -> Result<(), EditError> {
        let i = self.offer_index(id).ok_or(EditError::NotFound)?;
        if let Some(offers) = self
            .doc
            .get_mut("offers")
            .and_then(Item::as_array_of_tables_mut)
        {
            offers.remove(i);
        }
        Ok(())
    }

    fn pools(&self) -> Option<&Table> {
        self.doc.get("pools").and_then(Item::as_table)
    }

    pub fn pool_rows(&self) -> Vec<PoolFields> {
        self.pools()
            .map(|p| {
                p.iter()
                    .filter_map(|(name, item)| Some(read_pool(name, item.as_table_like()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn pool(&self, id: &str) -> Option<PoolFields> {
        Some(read_pool(id, self.pools()?.get(id)?.as_table_like()?))
    }

    /// The pool names of the offers' `code = { pool = .. }`, by offer id.
    pub fn pool_users(&self, pool: &str) -> Vec<String> {
        self.offers()
            .map(|a| {
                a.iter()
                    .map(read_offer)
                    .filter(|o| o.code == "pool" && o.code_pool == pool)
                    .map(|o| o.id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes a pool (None: a new one). Renaming a pool renames it in the offers that use it.
    pub fn set_pool(&mut self, id: Option<&str>, new: &PoolFields) -> Result<(), FieldsOrEdit> {
        let values = new.values().map_err(FieldsOrEdit::Fields)?;
        if id != Some(new.id.as_str()) && self.pool(&new.id).is_some() {
            return Err(FieldsOrEdit::taken(&new.id));
        }
        let pools = self.doc.entry("pools").or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        let Some(pools) = pools.as_table_mut() else {
            return Err(FieldsOrEdit::Edit(EditError::Shape("pools")));
        };
        let before = match id {
            Some(id) => {
                let Some(old) = pools.remove(id) else {
                    return Err(FieldsOrEdit::Edit(EditError::NotFound));
                };
                // Re-inserted under its new name, a table keeps its place (its position).
                let fields = old.as_table_like().map(|t| read_pool(id, t));
                pools.insert(&new.id, old);
                fields
            }
            None => {
                let mut t = Table::new();
                t.decor_mut().set_prefix("\n");
                pools.insert(&new.id, Item::Table(t));
                None
            }
        };
        let Some(table) = pools.get_mut(&new.id).and_then(Item::as_table_mut) else {
            return Err(FieldsOrEdit::Edit(EditError::Shape(
                "the pool is not written as a [pools.NAME] table",
            )));
        };
        let before = before.and_then(|b| b.values().ok());
        write(table, before.as_deref(), &values);
        if let Some(old) = id.filter(|old| *old != new.id) {
            self.rename_pool_users(old, &new.id);
        }
        Ok(())
    }

    fn rename_pool_users(&mut self, old: &str, new: &str) {
        let Some(offers) = self
            .doc
            .get_mut("offers")
            .and_then(Item::as_array_of_tables_mut)
        else {
            return;
        };
        for t in offers.iter_mut() {
            if let Some(code) = t.get_mut("code").and_then(Item::as_table_like_mut)
                && code.get("pool").and_then(Item::as_str) == Some(old)
                && let Some(v) = code.get_mut("pool").and_then(Item::as_value_mut)
            {
                let decor = v.decor().clone();
                *v = Value::from(new);
                *v.decor_mut() = decor;
            }
        }
    }

    pub fn remove_pool(&mut self, id: &str) -> Result<(), EditError> {
        let users = self.pool_users(id);
        if !users.is_empty() {
            return Err(EditError::InUse(users));
        }
        let removed = self
            .doc
            .get_mut("pools")
            .and_then(Item::as_table_mut)
            .and_then(|p| p.remove(id));
        removed.map(|_| ()).ok_or(EditError::NotFound)
    }
}

/// A form's type errors, or a refusal about the document.
#[derive(Debug)]
pub enum FieldsOrEdit {
    Fields(Vec<FieldError>),
    Edit(EditError),
}

impl FieldsOrEdit {
    fn taken(id: &str) -> Self {
        Self::Fields(vec![FieldError {
            field: "id".to_owned(),
            message: EditError::Taken(id.to_owned()).to_string(),
        }])
    }
}

/// A value as the form shows it: strings unquoted, everything else as TOML writes it.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.value().clone(),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Boolean(b) => b.value().to_string(),
        Value::Datetime(d) => d.value().to_string(),
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
        Value::InlineTable(t) => t.to_string().trim().to_owned(),
    }
}

fn get_text(t: &dyn TableLike, key: &str) -> String {
    t.get(key)
        .and_then(Item::as_value)
        .map(text_of)
        .unwrap_or_default()
}

/// A text the form edits: the string, or the `en` entry (the default) of one given per
/// language (`title.en`, `title.fr-CA`, ...), whose other languages the form leaves alone.
fn default_text(t: &dyn TableLike, key: &str) -> String {
    match t.get(key).and_then(Item::as_table_like) {
        Some(by_language) => get_text(by_language, "en"),
        None => get_text(t, key),
    }
}

fn list(t: &dyn TableLike, key: &str) -> Vec<String> {
    match t.get(key).and_then(Item::as_value) {
        Some(Value::Array(a)) => a.iter().map(text_of).collect(),
        Some(v) => vec![text_of(v)],
        None => Vec::new(),
    }
}

fn read_offer(t: &Table) -> OfferFields {
    let mut f = OfferFields {
        id: get_text(t, "id"),
        title: default_text(t, "title"),
        description: default_text(t, "description"),
        groups: list(t, "groups"),
        subgroups: list(t, "subgroups"),
        percent: get_text(t, "percent"),
        amount: get_text(t, "amount"),
        cap: get_text(t, "cap"),
        min_order: get_text(t, "min_order"),
        starts: get_text(t, "starts"),
        ends: get_text(t, "ends"),
        total_cap: get_text(t, "total_cap"),
        priority: get_text(t, "priority"),
        ..Default::default()
    };
    f.discount = if t.contains_key("percent") {
        "percent"
    } else if t.contains_key("amount") {
        "amount"
    } else if t.contains_key("free_shipping") {
        "free_shipping"
    } else {
        ""
    }
    .to_owned();
    match t.get("code") {
        Some(Item::Value(Value::String(s))) => {
            f.code = "static".to_owned();
            f.code_static = s.value().clone();
        }
        Some(item) => {
            if let Some(c) = item.as_table_like() {
                if c.contains_key("pool") {
                    f.code = "pool".to_owned();
                    f.code_pool = get_text(c, "pool");
                } else if c.contains_key("none") {
                    f.code = "none".to_owned();
                } else {
                    f.code = "generated".to_owned();
                    f.code_prefix = get_text(c, "prefix");
                    f.code_length = get_text(c, "length");
                }
            }
        }
        None => {}
    }
    if let Some(l) = t.get("limit").and_then(Item::as_table_like) {
        f.limit_claims = get_text(l, "claims");
        f.limit_days = get_text(l, "per_days");
    }
    if let Some(when) = t.get("when").and_then(Item::as_table_like) {
        for (attribute, tests) in when.iter() {
            let Some(tests) = tests.as_table_like() else {
                continue;
            };
            for (op, value) in tests.iter() {
                f.conditions.push(ConditionRow {
                    attribute: attribute.to_owned(),
                    op: op.to_owned(),
                    value: value.as_value().map(text_of).unwrap_or_default(),
                });
            }
        }
    }
    f
}

fn read_pool(id: &str, t: &dyn TableLike) -> PoolFields {
    PoolFields {
        id: id.to_owned(),
        low_threshold: get_text(t, "low_threshold"),
        seed: get_text(t, "seed"),
    }
}

fn row(o: &OfferFields) -> OfferRow {
    let discount = match o.discount.as_str() {
        "percent" => format!("{}% off", o.percent),
        "amount" => format!("{} off", o.amount),
        "free_shipping" => "free shipping".to_owned(),
        _ => "no discount".to_owned(),
    };
    let code = match o.code.as_str() {
        "static" => format!("code {}", o.code_static),
        "pool" => format!("codes from pool {}", o.code_pool),
        "generated" => format!("generated codes {}…", o.code_prefix),
        "none" => "no code".to_owned(),
        _ => "no code source".to_owned(),
    };
    OfferRow {
        id: o.id.clone(),
        title: o.title.clone(),
        groups: o.groups.join(", "),
        discount,
        code,
    }
}

fn rendered(item: Option<&Item>) -> Option<String> {
    item.map(|i| i.to_string().trim().to_owned())
}

/// Sets each key whose value differs from `before` (what the document's own fields become;
/// None: write every key). A replaced value keeps the old one's comment and spacing.
fn write(
    table: &mut Table,
    before: Option<&[(&'static str, Option<Item>)]>,
    values: &[(&'static str, Option<Item>)],
) {
    for (key, new) in values {
        let old = before.and_then(|b| b.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref()));
        if let Some(old) = old
            && rendered(old) == rendered(new.as_ref())
        {
            continue;
        }
        if matches!(*key, "title" | "description")
            && let Some(by_language) = table.get_mut(key).and_then(Item::as_table_like_mut)
        {
            match new {
                Some(Item::Value(v)) => {
                    let mut v = v.clone();
                    if let Some(old) = by_language.get("en").and_then(Item::as_value) {
                        *v.decor_mut() = old.decor().clone();
                    }
                    by_language.insert("en", Item::Value(v));
                }
                // Emptied: the loader then asks for the default the translations need.
                _ => {
                    by_language.remove("en");
                }
            }
            continue;
        }
        match new {
            None => {
                table.remove(key);
            }
            Some(Item::Value(v)) => {
                let mut v = v.clone();
                if let Some(old) = table.get(key).and_then(Item::as_value) {
                    *v.decor_mut() = old.decor().clone();
                }
                table.insert(key, Item::Value(v));
            }
            Some(item) => {
                table.insert(key, item.clone());
            }
        }
    }
}

/// The loader's problems with a document, sorted by where the form shows them.
#[derive(Debug, Default)]
pub struct Placed {
    /// (form field, message) for the edited offer or pool.
    pub fields: Vec<FieldError>,
    /// The rest, with their line.
    pub others: Vec<LoadError>,
}

/// What the edited offer or pool is, to find its lines and its fields.
pub enum Target<'a> {
    Offer(&'a OfferFields),
    Pool(&'a PoolFields),
}

/// Places `errors` of `text`: those within the lines of the target's table go to its fields.
/// `known` are problems the document had before the edit (not the form's doing): they are
/// left out of `others`.
pub fn place(text: &str, target: Target<'_>, errors: &[LoadError], known: &[LoadError]) -> Placed {
    let lines = target_lines(text, &target);
    let mut placed = Placed::default();
    for e in errors {
        let field = lines
            .as_ref()
            .filter(|r| r.contains(&e.line))
            .and_then(|_| {
                let path = e.field.as_deref()?;
                match &target {
                    Target::Offer(o) => o.field_of(path),
                    Target::Pool(p) => p.field_of(path),
                }
            });
        match field {
            Some(field) => placed.fields.push(FieldError {
                field,
                message: e.message.clone(),
            }),
            None if !known
                .iter()
                .any(|k| k.field == e.field && k.message == e.message) =>
            {
                placed.others.push(e.clone());
            }
            None => {}
        }
    }
    placed
}

/// The lines of the target's table: from its header to the next table's.
fn target_lines(text: &str, target: &Target<'_>) -> Option<std::ops::RangeInclusive<usize>> {
    let doc = toml_edit::Document::parse(text.to_owned()).ok()?;
    let mut headers: Vec<usize> = Vec::new();
    collect_headers(text, doc.as_table(), &mut headers);
    headers.sort_unstable();
    let header = match target {
        Target::Offer(o) => doc
            .get("offers")?
            .as_array_of_tables()?
            .iter()
            .find(|t| t.get("id").and_then(Item::as_str) == Some(o.id.as_str()))?
            .span()?,
        Target::Pool(p) => doc.get("pools")?.get(&p.id)?.as_table()?.span()?,
    };
    let start = line_col(text, header.start).0;
    let end = headers
        .iter()
        .find(|h| **h > start)
        .map_or(usize::MAX, |h| h - 1);
    Some(start..=end)
}

fn collect_headers(text: &str, t: &Table, out: &mut Vec<usize>) {
    for (_, item) in t.iter() {
        match item {
            Item::Table(t) => {
                // Dotted keys (`title.fr-CA = …`) make a table without a header of its own.
                if let Some(s) = t.span().filter(|_| !t.is_dotted()) {
                    out.push(line_col(text, s.start).0);
                }
                collect_headers(text, t, out);
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    if let Some(s) = t.span() {
                        out.push(line_col(text, s.start).0);
                    }
                    collect_headers(text, t, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
