// perkgate's embeddable "Verify with ID.me" button, for a shop's own pages:
//
//   <div data-perkgate></div>
//   <script src="https://perks.example/embed.js" integrity="sha384-…" crossorigin="anonymous" defer></script>
//
// The page's origin must be listed in PERKGATE_EMBED_ORIGINS. The button opens the store in a
// popup; when the shopper has verified, the popup hands the benefit to this page by
// postMessage (addressed to this page's origin only) and this page gets a `perkgate:benefit`
// DOM event on `document` with { offer, title, discount, code } as its detail. With popups
// blocked, the button takes the whole page to the store and back (`return_to`).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var store = new URL(script.src).origin;
  var slots = document.querySelectorAll("[data-perkgate]");
  if (slots.length === 0) {
    return;
  }

  function start() {
    var popup = window.open(
      store + "/?embed=" + encodeURIComponent(window.location.origin),
      "perkgate",
      "popup,width=560,height=780"
    );
    if (!popup) {
      window.location.href = store + "/?return_to=" + encodeURIComponent(window.location.href);
    }
  }

  var statuses = [];
  slots.forEach(function (slot) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "perkgate-verify";
    button.setAttribute("data-testid", "perkgate-embed-button");
    button.textContent = slot.getAttribute("data-label") || "Verify with ID.me";
    button.addEventListener("click", start);
    // Announced when the benefit arrives.
    var status = document.createElement("span");
    status.className = "perkgate-status";
    status.setAttribute("role", "status");
    status.setAttribute("data-testid", "perkgate-embed-status");
    slot.appendChild(button);
    slot.appendChild(status);
    statuses.push(status);
  });

  window.addEventListener("message", function (event) {
    if (event.origin !== store || !event.data || event.data.type !== "perkgate:benefit") {
      return;
    }
    var b = event.data.benefit || {};
    statuses.forEach(function (status) {
      status.textContent = "Discount unlocked: " + (b.discount || "") +
        (b.code ? " with code " + b.code : "");
    });
    document.dispatchEvent(new CustomEvent("perkgate:benefit", { detail: b }));
  });
})();
