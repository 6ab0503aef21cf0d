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

// A thread header opens its conversation and, clicked again, folds it. htmx loads the
// messages on the first click; later clicks only hide or show what is already there.
document.addEventListener("htmx:confirm", (event) => {
  const head = event.detail.elt;
  const body = head.classList.contains("thread-head") ? head.nextElementSibling : null;
  if (!body || !body.dataset.loaded) {
    return;
  }
  event.preventDefault(); // no new request
  body.hidden = !body.hidden;
  head.setAttribute("aria-expanded", String(!body.hidden));
});

document.addEventListener("htmx:afterSwap", (event) => {
  const body = event.detail.target; // undefined when htmx restores a page from history
  if (!(body instanceof Element) || !body.classList.contains("thread-body")) {
    return;
  }
  const head = body.previousElementSibling;
  if (head && head.classList.contains("thread-head")) {
    body.dataset.loaded = "1";
    body.hidden = false;
    head.setAttribute("aria-expanded", "true");
  }
});

// An email body frame is as tall as its email, up to 70% of the window; only a longer one
// scrolls inside. The frame is same-origin without allow-scripts (nothing in the email runs),
// so this page may read its height. Setting el.style from a script file is CSSOM, which the
// CSP allows (style attributes in markup it does not). Where the frame is opaque (a browser
// that does not say it is loading a frame), contentDocument is null and the CSS height stays.
const FRAME_CAP = 0.7;

function fitFrame(frame) {
  const doc = frame.contentDocument;
  if (!doc || !doc.body) {
    return;
  }
  const content = Math.max(doc.documentElement.getBoundingClientRect().height, doc.body.scrollHeight);
  const border = frame.offsetHeight - frame.clientHeight;
  const cap = Math.round(window.innerHeight * FRAME_CAP);
  frame.style.height = `${Math.min(Math.ceil(content) + border, cap)}px`;
  frame.classList.add("fitted");
}

document.addEventListener("load", (event) => {
  const frame = event.target;
  if (!(frame instanceof HTMLIFrameElement) || !frame.classList.contains("email-body-frame")) {
    return;
  }
  fitFrame(frame);
  // "Show quoted text" opens a <details> inside the email: follow its new height.
  const doc = frame.contentDocument;
  if (doc) {
    doc.addEventListener("toggle", () => fitFrame(frame), true);
  }
}, true);

let refitPending = 0;
window.addEventListener("resize", () => {
  window.clearTimeout(refitPending);
  refitPending = window.setTimeout(() => {
    document.querySelectorAll("iframe.email-body-frame.fitted").forEach(fitFrame);
  }, 150);
});
