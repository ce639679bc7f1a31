# perkgate's shopper-facing texts: English, the reference catalog.
# Every id here must be in every other catalog (a test checks), and the code names them in
# src/i18n/mod.rs (TEXT_IDS, Msg, COMMUNITIES, PERSONAS).

## Page frame (templates/base.html)
sandbox-banner = Sandbox: simulated verification, not ID.me
powered-by = discounts by perkgate
footer-promise = We ask ID.me only for the status an offer needs, keep only what the discount needs, and never sell your data.
footer-privacy = Privacy policy
footer-terms = Terms
footer-help = Help:
language-switch = Language

## The store (templates/storefront.html, offer_cards.html)
storefront-heading = Discounts for those who serve and learn
reference = Reference:
try-again = Try again
benefit-unlocked = Unlocked:
benefit-your-discount = Your discount:
benefit-use-code = Use this code at checkout:
benefit-copy-code = Copy code
benefit-no-code = No code needed: the discount is applied to your account at checkout.
benefit-valid-until = Valid until { $date }.
apply-at-checkout = Apply at checkout
back-to-shop = Back to the shop
verified-with = Verified with ID.me as
forget-verification = Forget my verification
offers-heading = Offers
verify = Verify with ID.me
verify-hint = At ID.me you choose your community; the offer follows what you verify.
what-is-idme = What is ID.me?
about-idme = You sign in at ID.me and choose to share your status with this store; we receive nothing else you do not allow.
offer-ran-out = The codes for this offer have run out.
offer-until = until { $date }
offer-for = For { $communities }
back-to-store = Back to the store

## Page titles
title-discounts = Discounts
title-verified = Verified
title-unlocked = Discount unlocked
title-not-verified = Not verified
title-no-benefit = No discount for you right now
title-declined = Verification declined
title-failed = Verification failed
title-expired = Verification expired

## What came of a verification ($date: a day; $offer: an offer's title; $reason: passed-over-*)
outcome-declined = You chose not to share your status, so nothing was shared with us and no discount was unlocked. You can verify any time.
outcome-failed = We could not complete your verification with ID.me just now, and nothing was unlocked. Please try again in a moment.
outcome-expired = Your verification took too long and has expired: verifications expire after { $duration }. Please start again.
outcome-passed-over = “{ $offer }” is not available to you ({ $reason }), so you got the next best offer.
outcome-not-verified = ID.me could not confirm your status, so no discount was unlocked. If you think this is wrong, verify again or check your status at ID.me.
outcome-no-offer = You are verified, but this store has no offer for your group right now.
outcome-not-eligible = You are verified, but the offers for your group are limited to statuses or details your verification does not include.
outcome-not-started = You are verified. The offer for your group starts on { $date }: come back then.
outcome-ended = You are verified, but the offer for your group ended on { $date }.
outcome-ran-out = You are verified, but the codes for this offer have run out.
outcome-limit-reached = You are verified and have already used this offer. You can claim it again from { $date }.
outcome-cap-reached = You are verified, but this offer has been fully claimed.
passed-over-ran-out = its codes have run out
passed-over-limit = you have used it; again from { $date }
passed-over-cap = it has been fully claimed
passed-over-not-started = it starts on { $date }
passed-over-ended = it ended on { $date }
passed-over-not-qualified = you do not qualify

## Durations
duration-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
duration-seconds = { $n ->
    [one] { $n } second
   *[other] { $n } seconds
}

## Discounts ($percent: a number; $cap, $amount, $min: amounts; $head: the discount before its minimum)
discount-percent = { $percent }% off
discount-percent-cap = { $percent }% off, up to { $cap }
discount-amount = { $amount } off
discount-free-shipping = Free shipping
discount-min-order = { $head }, on orders of { $min } or more

## Error pages (and the JSON API's messages)
error-state-missing-title = This sign-in link is incomplete
error-state-missing = The answer from ID.me was missing its details, or had them more than once. Start the verification again from the store.
error-state-unknown-title = This sign-in link does not belong to this browser
error-state-unknown = We could not match this answer from ID.me to a verification started here. Start again from the store.
error-state-used-title = This sign-in link was already used
error-state-used = Each verification can be completed once. Start a new one from the store.
error-state-expired-title = This verification took too long
error-state-expired = Verifications expire after { $duration }. Start a new one from the store.
error-csrf-title = This form has expired
error-csrf = Reload the store and try again.
error-forbidden-title = Your role does not allow this
error-forbidden = Ask an owner of this console if you need access.
error-not-found-title = Page not found
error-not-found = There is nothing here. The store is one click away.
error-method-title = That action is not available here
error-method = Go back to the store and try again.
error-too-many-title = Too many attempts
error-too-many = Please wait a moment, then try again from the store.
error-declined-title = You chose not to share your status
error-declined = Nothing was shared with us. You can verify any time to unlock your discount.
error-idme-refused-title = ID.me could not complete the verification
error-idme-refused = Nothing was unlocked and nothing was shared. Please try again.
error-idme-down-title = We could not reach ID.me just now
error-idme-down = Your verification did not go through, and nothing was unlocked. Please try again in a moment.
error-store-title = We are having a short technical problem
error-store = Please try again shortly. Nothing you already unlocked is lost.
error-internal-title = Something went wrong on our side
error-internal = Please try again. If it keeps happening, quote the reference below.
error-bad-request-title = That request could not be understood
error-bad-request = Go back to the store and try again.
error-too-large-title = That request was too large
error-too-large = The forms here are small, and this one was larger than we accept. Go back to the store and try again.
error-not-form-title = That request was not a form
error-not-form = This address takes a form submission (application/x-www-form-urlencoded). Go back to the store and try again.

## Rate limits ($wait: duration-seconds)
wait-browser = Please wait { $wait }, then try again from the store.
wait-address = Many people on your network are verifying right now. Please wait { $wait }, then try again from the store.
wait-callback = Please wait { $wait }, then reload this page to finish your verification: your answer from ID.me is kept.

## Communities (ID.me's group handles)
community-military = Military
community-student = Students
community-teacher = Teachers
community-responder = First responders
community-nurse = Nurses
community-alumni = Alumni
community-government = Government employees
community-employee = Employees
community-hospital-employee = Hospital employees
community-medical = Medical providers
community-military-canada = Canadian military
community-responder-canada = Canadian first responders
community-student-canada = Canadian students
community-teacher-canada = Canadian teachers
community-nurse-canada = Canadian nurses

## The sandbox (templates/sandbox_*.html)
sandbox-title = perkgate sandbox
sandbox-console = perkgate test console
sandbox-intro = This page stands in for ID.me during development. Nobody signs in here and nothing is checked: pick who to pretend to be. The store asked for:
sandbox-personas = Personas for this request
sandbox-others = Other outcomes
sandbox-decline = Decline to share (access_denied)
sandbox-groups-title = perkgate test console: pick a community
sandbox-groups-intro = This page stands in for ID.me's community picker during development. The store offers discounts to these communities; pick the one to verify, then who to pretend to be.
sandbox-refused = Sandbox refused the request
sandbox-page-used = This sign-in page has expired or was already used. Start again from the store.
sandbox-page-expired = This sign-in page has expired. Start again from the store.
sandbox-unknown-persona = Unknown persona.
persona-veteran = Military veteran
persona-service-member = Military service member
persona-student = Student
persona-teacher = Teacher
persona-responder = First responder
persona-nurse = Nurse
persona-unverified = Not verified (ID.me could not confirm a status)
