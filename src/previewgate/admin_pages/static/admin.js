// Progressive enhancement only: every page works without this file.
"use strict";

// Forms that destroy or end something ask first (the server still checks every rule).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// JSON editor: report syntax errors while typing and offer to pretty-print.
function enhanceJsonEditor(area) {
  const note = document.createElement("p");
  note.className = "json-status";
  note.setAttribute("aria-live", "polite");
  const format = document.createElement("button");
  format.type = "button";
  format.className = "link";
  format.textContent = "Format JSON";
  area.after(note, format);
  const check = () => {
    try {
      JSON.parse(area.value);
      note.textContent = "";
      return true;
    } catch (err) {
      note.textContent = "Not valid JSON yet: " + err.message;
      return false;
    }
  };
  area.addEventListener("input", check);
  format.addEventListener("click", () => {
    if (check()) {
      area.value = JSON.stringify(JSON.parse(area.value), null, 2);
    }
  });
}

// Request browser: a row's bodies are fetched the first time it is opened.
async function loadBody(pre, baseUrl) {
  const sha = pre.dataset.sha;
  pre.textContent = "loading…";
  try {
    const response = await fetch(baseUrl + sha, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      pre.textContent = "not available (HTTP " + response.status + ")";
      return;
    }
    const text = await response.text();
    try {
      pre.textContent = JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      pre.textContent = text;
    }
    pre.dataset.loaded = "true";
  } catch (err) {
    pre.textContent = "could not load: " + err.message;
  }
}

function enhanceRequests(list) {
  const baseUrl = list.dataset.bodyUrl;
  list.querySelectorAll("details[data-request]").forEach((row) => {
    row.addEventListener("toggle", () => {
      if (!row.open) return;
      row.querySelectorAll("pre.blob:not([data-loaded])").forEach((pre) => loadBody(pre, baseUrl));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  // A key shown once: focusing its field selects it, ready to copy.
  document.querySelectorAll("input[data-select-on-focus]").forEach((input) => {
    input.addEventListener("focus", () => input.select());
  });
  document.querySelectorAll("textarea[data-json-editor]").forEach(enhanceJsonEditor);
  document.querySelectorAll("[data-body-url]").forEach(enhanceRequests);
});
