"use strict";
// The users console's typed-in filters (templates/admin/scim_api/input_filter.html): a filter with
// data-autocomplete suggests values as one types, from the admin's own autocomplete endpoint (its
// permission checks, the group admin's search), at most one request per pause in typing.
function suggest(input) {
  const list = document.getElementById(input.getAttribute("list"));
  let timer = null;
  let asked = "";
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const term = input.value.trim();
      if (term.length < 2 || term === asked) return;
      asked = term;
      const url = new URL(input.dataset.autocomplete, window.location.origin);
      url.searchParams.set("term", term);
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok || term !== input.value.trim()) return;
      const { results } = await response.json();
      list.replaceChildren(...results.map((result) => new Option(result.text, result.text)));
    }, 200);
  });
}

// The admin loads this in the page's head, before the filters exist.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[data-autocomplete]").forEach(suggest);
});
