// perkgate storefront behaviour. Everything works without this script; it only smooths edges.
"use strict";

// A double click must not start two verifications: the first submit marks the form busy and
// swallows any further submit until the page is left.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.busy === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.busy = "1";
  var button = form.querySelector("button[type=submit]");
  if (button) {
    button.setAttribute("aria-disabled", "true");
    // Disable after the submit has been dispatched, so the submission itself goes ahead.
    setTimeout(function () { button.disabled = true; }, 0);
  }
});

// A page restored from the back-forward cache shows the state it had when left (perhaps a
// verify button that is no longer valid): reload it to show the session's current state.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    window.location.reload();
  }
});

// "Copy code": shown only where the clipboard API exists; without it the code is selectable.
document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
  if (!navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var target = document.getElementById(button.dataset.copyTarget);
    var status = button.parentElement.querySelector("[data-testid=copy-status]");
    navigator.clipboard.writeText(target.textContent.trim()).then(function () {
      // Announced through the live region next to the button (role=status).
      if (status) { status.textContent = "Code copied"; }
    }, function () {
      if (status) { status.textContent = "Could not copy: select the code instead"; }
    });
  });
});

// Focus moves to the outcome (the message, or the unlocked benefit) so keyboard and screen
// reader users land on what just happened.
var outcome = document.querySelector("[data-focus]");
if (outcome) {
  outcome.focus();
}

// In the embedded button's popup: hand the benefit to the page that opened it, addressed to
// its exact origin (the browser delivers it to no other), then close. Without an opener (the
// popup was a full page after all) the store simply shows the benefit.
var handoff = document.querySelector("[data-testid=embed-handoff]");
if (handoff && window.opener) {
  window.opener.postMessage({
    type: "perkgate:benefit",
    benefit: {
      offer: handoff.dataset.offer,
      title: handoff.dataset.title,
      discount: handoff.dataset.discount,
      code: handoff.dataset.code || null
    }
  }, handoff.dataset.origin);
  window.close();
}
