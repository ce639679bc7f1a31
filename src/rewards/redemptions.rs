//! Codes redeemed for orders through the merchant API: exactly once per code, with the order's
//! amount; a code's state for a lookup; the feed of unlocks and redemptions; and the
//! conversion figures (orders, revenue, redemption rate per offer) for the dashboard.
//!
//! A redemption is one conditional `UPDATE` of the claim and an insert into `redemptions`
//! (whose code is UNIQUE), in one transaction with the day's count and, when the request
//! carried an `Idempotency-Key`, with the answer kept for its replays: however many requests
//! race for one code, one wins and the others are told which order has it.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::admin::store::{self, Exec, OnSqlite, Row, Val};
use crate::db::{Db, Error, sqlite};

/// An `Idempotency-Key`'s answer is replayed for this long, then forgotten (housekeeping).
pub const IDEMPOTENCY_TTL: i64 = 24 * 3600;

/// Minor units per major unit of a currency (ISO 4217 exponents; 2 unless listed).
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// "12.34" in minor units of `currency`: digits, at most as many decimals as the currency
/// has, at most 12 digits before the point; never negative.
pub fn parse_amount(amount: &str, currency: &str) -> Option<i64> {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let places = exponent(currency) as usize;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 12
        || !digits(whole)
        || !digits(frac)
        || frac.len() > places
        || (amount.contains('.') && frac.is_empty())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if places == 0 {
        0
    } else {
        format!("{frac:0<places$}").parse().ok()?
    };
    whole
        .checked_mul(10_i64.pow(places as u32))?
        .checked_add(frac)
}

/// Minor units back to the decimal text the API speaks ("12.34", "1200" for yen).
pub fn format_amount(minor: i64, currency: &str) -> String {
    let places = exponent(currency);
    if places == 0 {
        return minor.to_string();
    }
    let unit = 10_i64.pow(places);
    format!(
        "{}.{:0width$}",
        minor / unit,
        minor % unit,
        width = places as usize
    )
}

pub fn valid_currency(currency: &str) -> bool {
    currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())
}

/// A shop's order id: 1 to 128 printable ASCII characters, not only spaces.
pub fn valid_order_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !id.trim().is_empty()
}

/// The order a code is redeemed for, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// A redemption as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redemption {
    pub code: String,
    pub offer_id: String,
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub redeemed_at: i64,
}

/// What redeeming a code came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeem {
    Redeemed(Redemption),
    /// No claim has this code.
    NotFound,
    /// Many claims share this code (an offer's static code): it names no one claim.
    Shared,
    Revoked {
        offer_id: String,
    },
    /// Redeemed before: for this order (`None` when it was marked redeemed by CSV or the
    /// command line, which know no order).
    Already {
        offer_id: String,
        redeemed_at: i64,
        first: Option<Redemption>,
    },
}

/// A request's `Idempotency-Key`, and a hash of what the request asked.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
}

impl Idempotency {
    pub fn new(key: &str, code: &str, order: &Order) -> Self {
        let request = format!(
            "redeem\n{code}\n{}\n{}\n{}",
            order.order_id, order.amount_minor, order.currency
        );
        Self {
            key: key.to_owned(),
            fingerprint: crate::crypto::sha256_b64(&request),
        }
    }
}

/// The answer to a redemption request: a status and a body, made by the caller's `render`
/// (so a replay is the first answer byte for byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Fresh {
        status: u16,
        body: String,
    },
    /// The first answer to this `Idempotency-Key`.
    Replay {
        status: u16,
        body: String,
    },
    /// This `Idempotency-Key` was used for another request.
    KeyReused,
}

pub type Render = fn(&Redeem) -> (u16, String);

/// Redeems `code` for `order`, on behalf of API key `key_id`.
pub async fn redeem(
    db: &Db,
    code: &str,
    order: &Order,
    key_id: i64,
    at: i64,
    idempotency: Option<Idempotency>,
    render: Render,
) -> Result<Answer, Error> {
    match db {
        Db::Sqlite(s) => {
            let (code, order) = (code.to_owned(), order.clone());
            s.call(move |c| {
                let mut on = OnSqlite(c);
                let run = redeem_in(
                    &mut on,
                    &code,
                    &order,
                    key_id,
                    at,
                    idempotency.as_ref(),
                    render,
                );
                sqlite::run_now(run)
                    .unwrap_or_else(|| Err(Error::Other("a SQLite redemption waited".to_owned())))
            })
            .await
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            let answer = redeem_in(
                &mut *tx,
                code,
                order,
                key_id,
                at,
                idempotency.as_ref(),
                render,
            )
            .await?;
            tx.commit().await?;
            crate::webhooks::wake();
            Ok(answer)
        }
    }
}

async fn redeem_in<E: Exec>(
    tx: &mut E,
    code: &str,
    order: &Order,
    key_id: i64,
    at: i64,
    idempotency: Option<&Idempotency>,
    render: Render,
) -> Result<Answer, Error> {
    if let Some(idem) = idempotency {
        // An expired answer not yet swept away is forgotten here.
        tx.rows(
            "DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND created_at <= $3",
            vec![
                Val::Int(key_id),
                idem.key.as_str().into(),
                Val::Int(at - IDEMPOTENCY_TTL),
            ],
        )
        .await?;
        // On PostgreSQL a second request with the key waits here for the first to commit.
        let inserted = tx
            .rows(
                "INSERT INTO idempotency_keys \
                 (api_key_id, key, fingerprint, status, body, created_at) \
                 VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT DO NOTHING RETURNING api_key_id",
                vec![
                    Val::Int(key_id),
                    idem.key.as_str().into(),
                    idem.fingerprint.as_str().into(),
                    Val::Int(at),
                ],
            )
            .await?;
        if inserted.is_empty() {
            let first = tx
                .one(
                    "SELECT fingerprint, status, body FROM idempotency_keys \
                     WHERE api_key_id = $1 AND key = $2",
                    vec![Val::Int(key_id), idem.key.as_str().into()],
                )
                .await?
                .ok_or_else(|| Error::Other("an idempotency key vanished".to_owned()))?;
            if first[0].string() != idem.fingerprint {
                return Ok(Answer::KeyReused);
            }
            return Ok(Answer::Replay {
                status: first[1].int() as u16,
                body: first[2].string(),
            });
        }
    }
    let outcome = redeem_code(tx, code, order, key_id, at).await?;
    let (status, body) = render(&outcome);
    if let Some(idem) = idempotency {
        tx.rows(
            // (SQLite numbers `$n` by first appearance: they go in order.)
            "UPDATE idempotency_keys SET status = $1, body = $2 WHERE api_key_id = $3 AND key = $4",
            vec![
                Val::Int(i64::from(status)),
                body.as_str().into(),
                Val::Int(key_id),
                idem.key.as_str().into(),
            ],
        )
        .await?;
    }
    Ok(Answer::Fresh { status, body })
}

async fn redeem_code<E: Exec>(
    tx: &mut E,
    code: &str,
    order: &Order,
    key_id: i64,
    at: i64,
) -> Result<Redeem, Error> {
    // The one statement that decides: of racing requests, one finds the claim unredeemed.
    // A code many claims share names no one claim (as support's revoke).
    const MARK: &str = "UPDATE claims SET redeemed_at = $1 WHERE code = $2 \
         AND redeemed_at IS NULL AND revoked_at IS NULL \
         AND (SELECT count(*) FROM claims WHERE code = $2) = 1 RETURNING offer_id";
    const RECORD: &str = "INSERT INTO redemptions \
         (code, offer_id, order_id, amount_minor, currency, redeemed_at, api_key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let marked = tx.one(MARK, vec![Val::Int(at), code.into()]).await?;
    if let Some(row) = marked {
        let offer_id = row[0].string();
        tx.rows(
            RECORD,
            vec![
                code.into(),
                offer_id.as_str().into(),
                order.order_id.as_str().into(),
                Val::Int(order.amount_minor),
                order.currency.as_str().into(),
                Val::Int(at),
                Val::Int(key_id),
            ],
        )
        .await?;
        // The dashboard's count, as `mark_redeemed` keeps it for CSV redemptions.
        tx.rows(
            super::codes::COUNT_REDEEMED,
            vec![
                Val::Int(crate::stats::day_of(at)),
                offer_id.as_str().into(),
                Val::Int(1),
            ],
        )
        .await?;
        let redemption = Redemption {
            code: code.to_owned(),
            offer_id,
            order_id: order.order_id.clone(),
            amount_minor: order.amount_minor,
            currency: order.currency.clone(),
            redeemed_at: at,
        };
        let event = crate::webhooks::Event::code_redeemed(&redemption);
        crate::webhooks::outbox::enqueue(tx, &event).await?;
        return Ok(Redeem::Redeemed(redemption));
    }
    let rows = tx.rows(STATE, vec![code.into()]).await?;
    Ok(match state_of(code, &rows) {
        Lookup::NotFound => Redeem::NotFound,
        Lookup::Shared { .. } => Redeem::Shared,
        Lookup::Found(s) if s.revoked_at.is_some() => Redeem::Revoked {
            offer_id: s.offer_id,
        },
        Lookup::Found(s) => Redeem::Already {
            offer_id: s.offer_id,
            redeemed_at: s.redeemed_at.unwrap_or(at),
            first: s.redemption,
        },
    })
}

/// A code's claim (at most two rows: two say it is shared) and its redemption, if any.
const STATE: &str = "SELECT c.offer_id, c.claimed_at, c.redeemed_at, c.revoked_at, \
     r.order_id, r.amount_minor, r.currency, r.redeemed_at \
     FROM claims c LEFT JOIN redemptions r ON r.code = c.code WHERE c.code = $1 LIMIT 2";

/// A code's state, for a lookup: nothing about the person who has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeState {
    pub code: String,
    pub offer_id: String,
    pub issued_at: i64,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Its redemption through the API, with the order.
    pub redemption: Option<Redemption>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    NotFound,
    /// Many claims have this code (an offer's static code).
    Shared {
        offer_id: String,
    },
    Found(CodeState),
}

fn state_of(code: &str, rows: &[Row]) -> Lookup {
    let opt = |v: &Val| matches!(v, Val::Int(_)).then(|| v.int());
    match rows {
        [] => Lookup::NotFound,
        [r] => Lookup::Found(CodeState {
            code: code.to_owned(),
            offer_id: r[0].string(),
            issued_at: r[1].int(),
            redeemed_at: opt(&r[2]),
            revoked_at: opt(&r[3]),
            redemption: r[4].text().map(|order_id| Redemption {
                code: code.to_owned(),
                offer_id: r[0].string(),
                order_id: order_id.to_owned(),
                amount_minor: r[5].int(),
                currency: r[6].string(),
                redeemed_at: r[7].int(),
            }),
        }),
        [r, ..] => Lookup::Shared {
            offer_id: r[0].string(),
        },
    }
}

pub async fn lookup(db: &Db, code: &str) -> Result<Lookup, Error> {
    let rows = store::rows(db, STATE, vec![code.into()]).await?;
    Ok(state_of(code, &rows))
}

/// Forgets answers kept for `Idempotency-Key`s past [`IDEMPOTENCY_TTL`] (housekeeping).
pub async fn prune_idempotency(db: &Db, now: i64) -> Result<usize, Error> {
    store::exec(
        db,
        "DELETE FROM idempotency_keys WHERE created_at <= $1 RETURNING api_key_id",
        vec![Val::Int(now - IDEMPOTENCY_TTL)],
    )
    .await
}

/// Where a reader of the feed is: the last claim and the last redemption it has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub claim: i64,
    pub redemption: i64,
}

impl Cursor {
    /// Opaque to clients: they pass back what they were given.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1.{}.{}", self.claim, self.redemption))
    }

    pub fn decode(s: &str) -> Option<Self> {
        if s.len() > 64 {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let mut parts = raw.strip_prefix("v1.")?.split('.');
        let claim: i64 = parts.next()?.parse().ok()?;
        let redemption: i64 = parts.next()?.parse().ok()?;
        (parts.next().is_none() && claim >= 0 && redemption >= 0)
            .then_some(Self { claim, redemption })
    }
}

/// An entry of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A benefit was unlocked: a claim made (its code, or none for a status-only offer).
    Unlocked {
        id: i64,
        offer_id: String,
        code: Option<String>,
        at: i64,
    },
    Redeemed {
        id: i64,
        redemption: Redemption,
    },
}

impl Event {
    fn at(&self) -> i64 {
        match self {
            Self::Unlocked { at, .. } => *at,
            Self::Redeemed { redemption, .. } => redemption.redeemed_at,
        }
    }
}

/// A page of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub events: Vec<Event>,
    /// Where the next page starts (the same cursor when nothing was new).
    pub next: Cursor,
    pub more: bool,
}

/// Unlocks and redemptions after `since`, oldest first, at most `limit`. Each kind is read in
/// the order of its ids and the two are merged by time, so a page always ends at one claim and
/// one redemption: the next page starts right after them, with no entry twice or left out.
pub async fn events(db: &Db, since: Cursor, limit: usize) -> Result<Page, Error> {
    const CLAIMS: &str = "SELECT id, offer_id, code, claimed_at FROM claims WHERE id > $1 \
         ORDER BY id LIMIT $2";
    const REDEMPTIONS: &str = "SELECT id, code, offer_id, order_id, amount_minor, currency, \
         redeemed_at FROM redemptions WHERE id > $1 ORDER BY id LIMIT $2";
    let take = limit as i64 + 1;
    let claims = store::rows(db, CLAIMS, vec![Val::Int(since.claim), Val::Int(take)]).await?;
    let redemptions = store::rows(
        db,
        REDEMPTIONS,
        vec![Val::Int(since.redemption), Val::Int(take)],
    )
    .await?;
    let mut unlocks = claims.iter().map(|r| Event::Unlocked {
        id: r[0].int(),
        offer_id: r[1].string(),
        code: r[2].text().map(str::to_owned),
        at: r[3].int(),
    });
    let mut redeemed = redemptions.iter().map(|r| Event::Redeemed {
        id: r[0].int(),
        redemption: Redemption {
            code: r[1].string(),
            offer_id: r[2].string(),
            order_id: r[3].string(),
            amount_minor: r[4].int(),
            currency: r[5].string(),
            redeemed_at: r[6].int(),
        },
    });
    let (mut a, mut b) = (unlocks.next(), redeemed.next());
    let mut page = Page {
        events: Vec::with_capacity(limit),
        next: since,
        more: false,
    };
    while page.events.len() < limit {
        // An unlock before a redemption of the same second: a code is unlocked first.
        let unlock_first = match (&a, &b) {
            (Some(x), Some(y)) => x.at() <= y.at(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let event = if unlock_first {
            std::mem::replace(&mut a, unlocks.next())
        } else {
            std::mem::replace(&mut b, redeemed.next())
        };
        match &event {
            Some(Event::Unlocked { id, .. }) => page.next.claim = *id,
            Some(Event::Redeemed { id, .. }) => page.next.redemption = *id,
            None => break,
        }
        page.events.extend(event);
    }
    page.more = a.is_some() || b.is_some();
    Ok(page)
}

/// An offer's conversion over some days: benefits unlocked, orders redeemed with its codes
/// through the API, and their revenue per currency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferConversion {
    pub offer_id: String,
    pub unlocked: u64,
    pub orders: u64,
    /// Minor units per currency (most shops have one).
    pub revenue_minor: BTreeMap<String, i64>,
}

impl OfferConversion {
    /// Orders per unlock, 0.0 to 1.0 (more only if codes unlocked earlier are redeemed now);
    /// `None` without unlocks.
    pub fn rate(&self) -> Option<f64> {
        (self.unlocked > 0).then(|| self.orders as f64 / self.unlocked as f64)
    }
}

/// Conversion per offer over days `from_day..=to_day` (days since 1970-01-01, UTC, as
/// `stats`), by offer id: orders and revenue from the redemptions (indexed by time), beside
/// the period's benefits `unlocked` per offer, which the caller has already summed from the
/// daily counts (the dashboard's breakdown): no second scan of them, and no scan of the claims.
pub async fn conversion(
    db: &Db,
    from_day: i64,
    to_day: i64,
    unlocked: impl IntoIterator<Item = (String, u64)>,
) -> Result<Vec<OfferConversion>, Error> {
    // sum() of a BIGINT is NUMERIC on PostgreSQL: cast back.
    const ORDERS: &str = "SELECT offer_id, currency, count(*), CAST(sum(amount_minor) AS BIGINT) \
         FROM redemptions WHERE redeemed_at >= $1 AND redeemed_at < $2 \
         GROUP BY offer_id, currency";
    let mut by_offer = BTreeMap::<String, OfferConversion>::new();
    fn entry(map: &mut BTreeMap<String, OfferConversion>, offer: String) -> &mut OfferConversion {
        map.entry(offer.clone()).or_insert_with(|| OfferConversion {
            offer_id: offer,
            ..OfferConversion::default()
        })
    }
    for (offer, n) in unlocked.into_iter().filter(|(_, n)| *n > 0) {
        entry(&mut by_offer, offer).unlocked = n;
    }
    let (start, end) = (from_day * 86_400, (to_day + 1) * 86_400);
    for r in store::rows(db, ORDERS, vec![Val::Int(start), Val::Int(end)]).await? {
        let c = entry(&mut by_offer, r[0].string());
        c.orders += r[2].int().max(0) as u64;
        *c.revenue_minor.entry(r[1].string()).or_insert(0) += r[3].int();
    }
    Ok(by_offer.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_minor_units_per_currency() {
        assert_eq!(parse_amount("12.34", "USD"), Some(1234));
        assert_eq!(parse_amount("12.3", "USD"), Some(1230));
        assert_eq!(parse_amount("12", "USD"), Some(1200));
        assert_eq!(parse_amount("0", "EUR"), Some(0));
        assert_eq!(parse_amount("1200", "JPY"), Some(1200));
        assert_eq!(parse_amount("1.5", "JPY"), None);
        assert_eq!(parse_amount("1.234", "KWD"), Some(1234));
        for bad in [
            "",
            ".5",
            "12.",
            "-1",
            "1e3",
            "12.345",
            " 1",
            "1,00",
            "9999999999999",
        ] {
            assert_eq!(parse_amount(bad, "USD"), None, "{bad:?}");
        }
        assert_eq!(format_amount(1234, "USD"), "12.34");
        assert_eq!(format_amount(5, "USD"), "0.05");
        assert_eq!(format_amount(1200, "JPY"), "1200");
        assert_eq!(format_amount(1234, "KWD"), "1.234");
        assert!(valid_currency("USD") && !valid_currency("usd") && !valid_currency("US"));
        assert!(valid_order_id("#1001") && !valid_order_id("") && !valid_order_id("  "));
        assert!(!valid_order_id(&"x".repeat(129)) && !valid_order_id("a\nb"));
    }

    #[test]
    fn cursors_are_opaque_and_checked() {
        let c = Cursor {
            claim: 42,
            redemption: 7,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert!(!c.encode().contains("42"));
        for bad in ["", "x", "djEuMS4y!", &URL_SAFE_NO_PAD.encode("v1.-1.0")] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("v1.1.2.3")), None);
    }

    fn render(r: &Redeem) -> (u16, String) {
        match r {
            Redeem::Redeemed(x) => (200, x.order_id.clone()),
            Redeem::Already { first, .. } => (
                409,
                first
                    .as_ref()
                    .map_or("?".to_owned(), |f| f.order_id.clone()),
            ),
            Redeem::NotFound => (404, String::new()),
            Redeem::Shared => (422, String::new()),
            Redeem::Revoked { .. } => (410, String::new()),
        }
    }

    async fn claim(db: &Db, offer: &str, code: &str, at: i64) {
        store::exec(
            db,
            "INSERT INTO claims (offer_id, person_key, code, claimed_at) VALUES ($1, 'p', $2, $3)",
            vec![offer.into(), code.into(), Val::Int(at)],
        )
        .await
        .unwrap();
    }

    fn order(id: &str, minor: i64) -> Order {
        Order {
            order_id: id.to_owned(),
            amount_minor: minor,
            currency: "USD".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_and_counted_and_replays_are_identical() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let day = 20_000;
        let at = day * 86_400 + 10;
        claim(&db, "military", "ABC-123", at - 5).await;
        let first = redeem(&db, "ABC-123", &order("#1", 5000), 1, at, None, render)
            .await
            .unwrap();
        assert_eq!(
            first,
            Answer::Fresh {
                status: 200,
                body: "#1".to_owned()
            }
        );
        let again = redeem(&db, "ABC-123", &order("#2", 10), 1, at, None, render)
            .await
            .unwrap();
        assert_eq!(
            again,
            Answer::Fresh {
                status: 409,
                body: "#1".to_owned()
            }
        );
        let unknown = redeem(&db, "NOPE-1", &order("#3", 10), 1, at, None, render).await;
        assert!(matches!(unknown, Ok(Answer::Fresh { status: 404, .. })));
        let counts = crate::stats::daily(&db, day, day).await.unwrap();
        assert_eq!(counts.len(), 1);
        assert_eq!((counts[0].offer.as_str(), counts[0].n), ("military", 1));

        claim(&db, "military", "DEF-456", at).await;
        let o = order("#9", 100);
        let idem = || Some(Idempotency::new("k1", "DEF-456", &o));
        let a = redeem(&db, "DEF-456", &o, 1, at, idem(), render)
            .await
            .unwrap();
        let b = redeem(&db, "DEF-456", &o, 1, at + 1, idem(), render)
            .await
            .unwrap();
        assert_eq!(
            (a, b),
            (
                Answer::Fresh {
                    status: 200,
                    body: "#9".to_owned()
                },
                Answer::Replay {
                    status: 200,
                    body: "#9".to_owned()
                }
            )
        );
        let other = Some(Idempotency::new("k1", "DEF-456", &order("#10", 100)));
        assert_eq!(
            redeem(&db, "DEF-456", &o, 1, at, other, render)
                .await
                .unwrap(),
            Answer::KeyReused
        );
        // Another API key's "k1" is another key; an expired one is forgotten.
        let theirs = redeem(&db, "DEF-456", &o, 2, at, idem(), render)
            .await
            .unwrap();
        assert!(matches!(theirs, Answer::Fresh { status: 409, .. }));
        let later = at + IDEMPOTENCY_TTL;
        let expired = redeem(&db, "DEF-456", &o, 1, later, idem(), render)
            .await
            .unwrap();
        assert!(matches!(expired, Answer::Fresh { status: 409, .. }));
        assert_eq!(
            prune_idempotency(&db, later + IDEMPOTENCY_TTL)
                .await
                .unwrap(),
            2
        );

        match lookup(&db, "DEF-456").await.unwrap() {
            Lookup::Found(s) => {
                assert_eq!(s.redeemed_at, Some(at));
                assert_eq!(s.redemption.unwrap().order_id, "#9");
            }
            other => panic!("{other:?}"),
        }
        claim(&db, "student", "SHARED", at).await;
        claim(&db, "student", "SHARED", at).await;
        assert_eq!(
            lookup(&db, "SHARED").await.unwrap(),
            Lookup::Shared {
                offer_id: "student".to_owned()
            }
        );
        let shared = redeem(&db, "SHARED", &order("#4", 1), 1, at, None, render).await;
        assert!(matches!(shared, Ok(Answer::Fresh { status: 422, .. })));
    }

    #[tokio::test]
    async fn the_feed_pages_without_gaps_or_repeats() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        for i in 0..7 {
            claim(&db, "military", &format!("CODE-{i}"), 100 + i * 10).await;
        }
        for i in [1, 4] {
            let code = format!("CODE-{i}");
            redeem(
                &db,
                &code,
                &order(&format!("#{i}"), 1),
                1,
                105 + i * 10,
                None,
                render,
            )
            .await
            .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = Cursor::default();
        loop {
            let page = events(&db, cursor, 3).await.unwrap();
            assert!(page.events.len() <= 3);
            seen.extend(page.events.iter().map(|e| match e {
                Event::Unlocked { code, .. } => format!("u {}", code.clone().unwrap()),
                Event::Redeemed { redemption, .. } => format!("r {}", redemption.code),
            }));
            cursor = page.next;
            if !page.more {
                break;
            }
        }
        assert_eq!(
            seen,
            [
                "u CODE-0", "u CODE-1", "r CODE-1", "u CODE-2", "u CODE-3", "u CODE-4", "r CODE-4",
                "u CODE-5", "u CODE-6"
            ]
        );
        let after = events(&db, cursor, 3).await.unwrap();
        assert!(after.events.is_empty() && !after.more && after.next == cursor);
        claim(&db, "military", "CODE-7", 500).await;
        let new = events(&db, cursor, 3).await.unwrap();
        assert_eq!(new.events.len(), 1);
    }

    #[tokio::test]
    async fn conversion_per_offer() {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let day = 20_000;
        let at = day * 86_400;
        let counts = crate::stats::Counts::default();
        counts.add_n(at, crate::stats::Event::Unlocked, "military", "military", 4);
        counts.add_n(at, crate::stats::Event::Unlocked, "student", "student", 2);
        counts.add_n(
            at - 86_400,
            crate::stats::Event::Unlocked,
            "military",
            "military",
            9,
        );
        counts.flush(&db).await.unwrap();
        for (i, (offer, amount)) in [("military", 1000), ("military", 2550)].iter().enumerate() {
            let code = format!("C-{i}");
            claim(&db, offer, &code, at).await;
            redeem(
                &db,
                &code,
                &order(&format!("#{i}"), *amount),
                1,
                at + 60,
                None,
                render,
            )
            .await
            .unwrap();
        }
        let unlocked = crate::admin::dashboard::breakdown(&db, day, 1)
            .await
            .unwrap();
        let unlocked = (unlocked.by_offer.iter()).map(|(o, t)| {
            let n = crate::admin::dashboard::Breakdown::n(t, crate::stats::Event::Unlocked);
            (o.clone(), n as u64)
        });
        let figures = conversion(&db, day, day, unlocked).await.unwrap();
        assert_eq!(figures.len(), 2);
        let m = &figures[0];
        assert_eq!(
            (m.offer_id.as_str(), m.unlocked, m.orders),
            ("military", 4, 2)
        );
        assert_eq!(m.revenue_minor["USD"], 3550);
        assert_eq!(m.rate(), Some(0.5));
        let s = &figures[1];
        assert_eq!(
            (s.offer_id.as_str(), s.unlocked, s.orders),
            ("student", 2, 0)
        );
        assert_eq!(s.rate(), Some(0.0));
        let none = conversion(&db, day + 1, day + 2, []).await.unwrap();
        assert!(none.is_empty());
    }
}
