"use strict";
// The page showing a new SCIM token once (templates/admin/directory/scimtoken/issued.html).
{
  const page = document.querySelector("[data-token-page]");
  const field = document.getElementById("token-plaintext");
  const button = document.getElementById("token-copy");
  const status = document.getElementById("token-copy-status");

  // This page answers a POST: reloading it would post again and issue a second token. Its history
  // entry becomes the token's own page instead, which reloading and coming back then show.
  history.replaceState(null, "", page.dataset.tokenPage);

  async function copy() {
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      // No asynchronous clipboard (a page served over plain HTTP, but not from localhost).
      field.select();
      if (!document.execCommand("copy")) {
        status.textContent = "Could not copy: select the token and copy it yourself.";
        return;
      }
    }
    status.textContent = "Copied to the clipboard.";
  }

  button.addEventListener("click", copy);
  button.hidden = false;
  // A click or a tap in the field selects all of it, so that copying by hand takes the whole token.
  field.addEventListener("focus", () => field.select());
}
