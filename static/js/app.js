// LeadSync's only script of its own. No inline scripts anywhere: the CSP forbids them.
"use strict";

// Buttons with data-confirm ask before their form is sent (plain or HTMX).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Keep the CSRF header current if a partial brings a fresh token.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector("input[name=csrf_token]");
  if (token && !event.detail.headers["X-CSRFToken"]) {
    event.detail.headers["X-CSRFToken"] = token.value;
  }
});

// "To" starts with the lead's primary address; a chip adds one of its other addresses.
document.addEventListener("click", (event) => {
  const chip = event.target.closest("[data-add-recipient]");
  if (!chip || !chip.form) {
    return;
  }
  const field = chip.form.elements.namedItem(chip.dataset.field);
  const typed = field.value.split(/[,;\s]+/).filter(Boolean);
  if (!typed.some((address) => address.toLowerCase() === chip.dataset.addRecipient)) {
    field.value = [...typed, chip.dataset.addRecipient].join(", ");
  }
  chip.hidden = true;
  field.focus();
});

// Review queue: "select all on this page" ticks the rows; "all matching the filter" covers
// every page (the server resolves it from the filter), so the rows show ticked and locked.
function reviewSelection(form) {
  const rows = [...document.querySelectorAll("input.select-row")];
  const page = form.querySelector("#select-page");
  const matching = form.querySelector("#select-matching");
  const count = form.querySelector("#selected-count");
  const everything = Boolean(matching && matching.checked);
  rows.forEach((row) => { row.disabled = everything; if (everything) { row.checked = true; } });
  page.checked = everything || (rows.length > 0 && rows.every((row) => row.checked));
  page.disabled = everything;
  const selected = everything ? Number(form.dataset.total) : rows.filter((row) => row.checked).length;
  const label = selected === 0 ? "selectedNone" : selected === 1 ? "selectedOne" : "selectedMany";
  count.textContent = form.dataset[label].replace("{n}", selected.toLocaleString(document.documentElement.lang));
}

document.addEventListener("change", (event) => {
  const form = document.getElementById("review-bulk");
  if (!form || !event.target.matches("#select-page, #select-matching, input.select-row")) {
    return;
  }
  if (event.target.id === "select-page") {
    document.querySelectorAll("input.select-row").forEach((row) => { row.checked = event.target.checked; });
  }
  reviewSelection(form);
});
