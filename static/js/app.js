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
