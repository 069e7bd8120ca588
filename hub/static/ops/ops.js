// The ops pages' only script: confirm before destructive forms, and reload a running job's page.
"use strict";

document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // One click, one request: a second click while the first is in flight does nothing.
  for (const button of form.querySelectorAll("button")) {
    button.disabled = true;
  }
});

document.addEventListener("DOMContentLoaded", function () {
  const seconds = Number(document.body.getAttribute("data-refresh"));
  if (seconds > 0) {
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
});
