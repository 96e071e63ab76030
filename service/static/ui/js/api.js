// The service's JSON API as the pages call it. When the server has API keys, the first 401 asks the
// visitor for one (a small form); it is kept in sessionStorage only, so it leaves with the tab, and
// in a session cookie the server reads for training reports only (a plain link sends no header).
import { el } from "./dom.js";

const KEY_HEADER = "X-API-Key";
const KEY_STORE = "odeserve.api-key";
const REPORT_COOKIE = "odeserve_api_key"; // service/deps.py REPORT_KEY_COOKIE
const COOKIE_SCOPE = "; path=/ui/models/; SameSite=Strict";

function rememberKey(value) {
  sessionStorage.setItem(KEY_STORE, value);
  document.cookie = `${REPORT_COOKIE}=${encodeURIComponent(value)}${COOKIE_SCOPE}`;
}

function forgetKey() {
  sessionStorage.removeItem(KEY_STORE);
  document.cookie = `${REPORT_COOKIE}=${COOKIE_SCOPE}; max-age=0`;
}

export class ApiError extends Error {
  constructor(status, body) {
    const info = body?.error ?? {};
    super(typeof info === "string" ? info : (info.message ?? `the server answered ${status}`));
    this.status = status;
    this.type = info.type ?? "http_error";
  }
}

export function getJson(path) {
  return call(path, { method: "GET" });
}

export function postJson(path, body) {
  return call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

export function usesKey() {
  return sessionStorage.getItem(KEY_STORE) !== null;
}

async function call(path, init) {
  for (;;) {
    const key = sessionStorage.getItem(KEY_STORE);
    const headers = { Accept: "application/json", ...init.headers };
    if (key !== null) headers[KEY_HEADER] = key;
    const response = await fetch(path, { ...init, headers });
    const body = await readBody(response);
    if (response.ok) return body;
    if (response.status === 401 || (response.status === 403 && key !== null)) {
      forgetKey();
      await askForKey(response.status === 401 ? "This server needs an API key." : "That key was refused; try another.");
      continue;
    }
    throw new ApiError(response.status, body);
  }
}

async function readBody(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text || `the server answered ${response.status}` } };
  }
}

let asking = null; // one prompt, however many requests met the 401

function askForKey(message) {
  if (asking === null) {
    asking = new Promise((resolve) => {
      const form = keyForm();
      form.querySelector("#key-message").textContent = message;
      form.hidden = false;
      document.body.dataset.needsKey = "true";
      form.querySelector("#api-key").focus();
      form.onsubmit = (event) => {
        event.preventDefault();
        const value = form.querySelector("#api-key").value.trim();
        if (!value) return;
        rememberKey(value);
        form.hidden = true;
        delete document.body.dataset.needsKey;
        asking = null;
        resolve();
      };
    });
  }
  return asking;
}

function keyForm() {
  const existing = document.getElementById("key-form");
  if (existing !== null) return existing;
  const form = el(
    "form",
    { id: "key-form", class: "panel key-form", novalidate: true },
    el("label", { for: "api-key" }, "API key"),
    el("input", { id: "api-key", type: "password", autocomplete: "off", required: true }),
    el("button", { id: "key-submit", type: "submit" }, "Use key"),
    el("span", { id: "key-message", class: "hint" }),
  );
  document.querySelector("main").prepend(form);
  return form;
}
