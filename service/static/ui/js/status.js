// What the page is doing, for people (#status) and for tests (body[data-state]): "busy" while any
// request or drawing is pending, "ready" once all are done, so a test waits on it instead of sleeping.
import { byId } from "./dom.js";

let pending = 0;

export function track(promise) {
  pending += 1;
  document.body.dataset.state = "busy";
  return Promise.resolve(promise)
    .catch(showError)
    .finally(() => {
      pending -= 1;
      if (pending === 0) {
        document.body.dataset.state = "ready";
        document.body.dataset.generation = String(Number(document.body.dataset.generation ?? 0) + 1);
      }
    });
}

export function showError(error) {
  const status = byId("status");
  status.textContent = error instanceof Error ? error.message : String(error);
  status.className = "error";
  document.body.dataset.errors = String(Number(document.body.dataset.errors ?? 0) + 1);
}

export function say(text) {
  const status = byId("status");
  status.textContent = text;
  status.className = "";
}
