//! What a verification means for the shopper: which offer, which code, or why none.
//! Plain functions over the payload, the rules and the ledger; no HTTP, no session.

use serde::{Deserialize, Serialize};

use crate::crypto::PersonKeyer;
use crate::idme::{Payload, PayloadError};
use crate::rewards::{self, Claim, PoolLevels};
use crate::rules::{Benefit, Evaluation, Facts, Ineligible, Rules, Verification, evaluate};

/// Why a verified shopper got no benefit: one clear reason, about their own situation only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoBenefit {
    /// No running offer for any of their groups.
    NoOfferForGroup,
    /// Offers exist for their group, but their subgroup or attributes do not qualify.
    NotEligible,
    NotStarted(i64),
    Ended(i64),
    RanOut,
    LimitReached(i64),
    CapReached,
}

/// The result of a verification.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Unlocked {
        verification: Verification,
        benefit: Benefit,
        /// The better offer that could not be claimed (its title), and why.
        passed_over: Option<(String, NoBenefit)>,
    },
    Verified(Verification, NoBenefit),
}

/// Reads the payload: the verification to keep and the facts to select with, or `None` when
/// nothing is verified. A verified payload without a uuid is an error.
pub fn read(
    payload: &Payload,
    keyer: &PersonKeyer,
    now: i64,
) -> Result<Option<(Verification, Facts)>, PayloadError> {
    let facts = Facts::from_payload(payload);
    if facts.groups.is_empty() {
        return Ok(None);
    }
    let uuid = payload.uuid().ok_or(PayloadError::MissingUuid)?;
    let verification = Verification {
        groups: facts.groups.clone(),
        verified_at: now,
        person_key: keyer.key(&uuid),
    };
    Ok(Some((verification, facts)))
}

/// The reason to show when no offer is eligible: the most specific one among the offers for
/// the shopper's groups.
pub fn why_none(evaluation: &Evaluation<'_>) -> NoBenefit {
    let reasons = evaluation
        .ineligible
        .iter()
        .map(|(_, why)| why)
        .filter(|why| **why != Ineligible::NotForGroup);
    let mut best = NoBenefit::NoOfferForGroup;
    for why in reasons {
        let candidate = match why {
            Ineligible::Ended(t) => NoBenefit::Ended(*t),
            Ineligible::NotStarted(t) => NoBenefit::NotStarted(*t),
            _ => NoBenefit::NotEligible,
        };
        best = match (best, candidate) {
            (NoBenefit::NoOfferForGroup, c) => c,
            (NoBenefit::NotEligible, c @ (NoBenefit::Ended(_) | NoBenefit::NotStarted(_))) => c,
            (b, _) => b,
        };
    }
    best
}

/// Selects and claims: tries the eligible offers in order until one can be claimed.
pub async fn unlock(
    db: &crate::db::Db,
    rules: &Rules,
    verification: Verification,
    facts: &Facts,
    now: i64,
    levels: &PoolLevels,
) -> Result<Outcome, crate::db::Error> {
    let evaluation = evaluate(rules, facts, now);
    let mut first_failure: Option<(&str, NoBenefit)> = None;
    for offer in &evaluation.eligible {
        let claim = rewards::claim_from(db, rules, offer, &verification.person_key, now).await?;
        crate::metrics::claim(
            &offer.id,
            match &claim {
                Claim::Issued { reused: true, .. } => "reshown",
                Claim::Issued { .. } => "issued",
                Claim::RanOut => "ran_out",
                Claim::LimitReached { .. } => "limit_reached",
                Claim::CapReached => "cap_reached",
            },
        );
        let failure = match claim {
            Claim::Issued { code, reused } => {
                tracing::info!(offer = %offer.id, reused, "benefit unlocked");
                rewards::check_low(db, rules, offer, levels).await;
                let benefit = Benefit::new(offer, &rules.currency, code);
                // The shopper is told when a better offer was passed over, not left to wonder.
                let passed_over = first_failure.map(|(title, why)| (title.to_owned(), why));
                return Ok(Outcome::Unlocked {
                    verification,
                    benefit,
                    passed_over,
                });
            }
            Claim::RanOut => {
                if let crate::rules::CodeSource::Pool(pool) = &offer.code {
                    levels.set(pool, 0);
                }
                NoBenefit::RanOut
            }
            Claim::LimitReached { until } => NoBenefit::LimitReached(until),
            Claim::CapReached => NoBenefit::CapReached,
        };
        tracing::info!(offer = %offer.id, reason = ?failure, "offer not available, trying the next");
        first_failure.get_or_insert((&offer.title, failure));
    }
    let reason = first_failure.map_or_else(|| why_none(&evaluation), |(_, why)| why);
    tracing::info!(reason = ?reason, "verified, no benefit");
    Ok(Outcome::Verified(verification, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{VerifiedGroup, parse};

    #[test]
    fn reading_payloads() {
        let k = PersonKeyer::new(b"k".to_vec());
        let p = Payload::parse(
            br#"{"attributes":[{"handle":"uuid","value":"abc"}],
                 "status":[{"group":"military","subgroups":["Veteran"],"verified":true}]}"#,
        )
        .unwrap();
        let (v, f) = read(&p, &k, 7).unwrap().unwrap();
        assert_eq!(v.groups[0].subgroups, ["Veteran"]);
        assert_eq!(
            (v.verified_at, v.person_key.as_str()),
            (7, k.key("abc").as_str())
        );
        assert_eq!(f.attributes["uuid"], ["abc"]);
        for body in [
            &br#"{"status":[{"group":"military","verified":false}]}"#[..],
            br#"{"status":[]}"#,
        ] {
            assert_eq!(read(&Payload::parse(body).unwrap(), &k, 7), Ok(None));
        }
        let no_uuid =
            Payload::parse(br#"{"status":[{"group":"military","verified":true}]}"#).unwrap();
        assert_eq!(read(&no_uuid, &k, 7), Err(PayloadError::MissingUuid));
    }

    #[test]
    fn the_most_specific_reason_wins() {
        let rules = parse(
            "r.toml",
            r#"
[[offers]]
id = "vets"
title = "Vets"
groups = ["military"]
subgroups = ["Veteran"]
percent = 20
code = "V"

[[offers]]
id = "old"
title = "Old"
groups = ["military"]
percent = 10
code = "O"
ends = 2020-01-01

[[offers]]
id = "students"
title = "Students"
groups = ["student"]
percent = 10
code = "S"
"#,
            None,
        )
        .unwrap()
        .rules;
        let facts = |group: &str, sub: &str| Facts {
            groups: vec![VerifiedGroup {
                group: group.into(),
                subgroups: vec![sub.into()],
            }],
            attributes: Default::default(),
        };
        let now = 1_790_000_000;
        assert_eq!(
            why_none(&evaluate(&rules, &facts("military", "Service Member"), now)),
            NoBenefit::Ended(1_577_923_199)
        );
        assert_eq!(
            why_none(&evaluate(&rules, &facts("alumni", ""), now)),
            NoBenefit::NoOfferForGroup
        );
        assert_eq!(
            why_none(&evaluate(
                &rules,
                &facts("military", "Service Member"),
                1_500_000_000
            )),
            NoBenefit::NotEligible
        );
    }
}
