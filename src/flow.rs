//! What a verification means for the shopper: plain functions, no I/O.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::idme::{Payload, PayloadError};
use crate::rules::{Benefit, Offers, Verification, VerifiedGroup, select_offer};

/// The result of reading ID.me's answer against the merchant's offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Unlocked(Verification, Benefit),
    /// Verified in a group this store has no offer for.
    NoOffer(Verification),
    /// ID.me did not confirm any group (`verified:false` or an empty `status`).
    NotVerified,
}

/// Keys per-person records without keeping ID.me's uuid: HMAC-SHA256 under a server secret.
#[derive(Clone)]
pub struct PersonKeyer {
    key: Vec<u8>,
}

impl PersonKeyer {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    pub fn key(&self, uuid: &str) -> String {
        use base64::Engine;
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(uuid.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

pub fn evaluate(
    payload: &Payload,
    offers: &Offers,
    keyer: &PersonKeyer,
    now: i64,
) -> Result<Outcome, PayloadError> {
    let groups: Vec<VerifiedGroup> = payload
        .verified_groups()
        .map(|s| VerifiedGroup {
            group: s.group.clone(),
            subgroups: s.subgroups.clone(),
        })
        .collect();
    if groups.is_empty() {
        return Ok(Outcome::NotVerified);
    }
    let uuid = payload.uuid().ok_or(PayloadError::MissingUuid)?;
    let verification = Verification {
        groups,
        verified_at: now,
        person_key: keyer.key(&uuid),
    };
    Ok(match select_offer(offers, &verification) {
        Some(benefit) => Outcome::Unlocked(verification, benefit),
        None => Outcome::NoOffer(verification),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::EXAMPLE_RULES;

    fn run(body: &str) -> Result<Outcome, PayloadError> {
        let offers = Offers::parse("rules.toml", EXAMPLE_RULES).unwrap();
        let payload = Payload::parse(body.as_bytes()).unwrap();
        evaluate(&payload, &offers, &PersonKeyer::new(b"k".to_vec()), 7)
    }

    #[test]
    fn veteran_unlocks_the_military_offer_keyed_without_the_uuid() {
        let out = run(r#"{"attributes":[{"handle":"uuid","value":"abc123"}],
                "status":[{"group":"military","subgroups":["Veteran"],"verified":true}]}"#)
        .unwrap();
        let Outcome::Unlocked(v, b) = out else {
            panic!("{out:?}")
        };
        assert_eq!(b.code, "SALUTE15");
        assert_eq!(v.groups[0].subgroups, ["Veteran"]);
        assert_eq!(v.verified_at, 7);
        assert_ne!(v.person_key, "abc123");
        assert_eq!(v.person_key, PersonKeyer::new(b"k".to_vec()).key("abc123"));
        assert_ne!(
            v.person_key,
            PersonKeyer::new(b"other".to_vec()).key("abc123")
        );
    }

    #[test]
    fn unverified_shapes_unlock_nothing() {
        assert_eq!(
            run(r#"{"status":[{"group":"military","subgroups":[],"verified":false}]}"#),
            Ok(Outcome::NotVerified)
        );
        assert_eq!(run(r#"{"status":[]}"#), Ok(Outcome::NotVerified));
    }

    #[test]
    fn other_group_is_verified_without_offer_and_uuid_is_required() {
        let seed = include_str!("../tests/fixtures/attributes-seed.json");
        assert!(matches!(run(seed), Ok(Outcome::NoOffer(_))));
        assert_eq!(
            run(r#"{"status":[{"group":"military","verified":true}]}"#),
            Err(PayloadError::MissingUuid)
        );
    }
}
