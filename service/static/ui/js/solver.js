// The solver panel: a served method (from the one catalogue, /ui/methods.json) and its settings; Apply
// re-runs every picture. It also shows the last predict call as a curl command with its exact body.
import { usesKey } from "./api.js";
import { byId, el } from "./dom.js";

export class SolverPanel {
  constructor(methods, onApply) {
    this.methods = new Map(methods.map((m) => [m.name, m]));
    byId("method").replaceChildren(
      ...methods.map((m) => el("option", { value: m.name }, `${m.name} (${m.grid}${m.order ? `, order ${m.order}` : ""})`)),
    );
    byId("method").addEventListener("change", () => this.showGrid());
    byId("solver-form").addEventListener("submit", (event) => {
      event.preventDefault();
      onApply();
    });
  }

  setDefaults(solver) {
    byId("method").value = solver.method;
    byId("rtol").value = String(solver.rtol);
    byId("atol").value = String(solver.atol);
    byId("step-size").value = String(solver.step_size);
    this.showGrid();
  }

  adaptive() {
    return this.methods.get(byId("method").value)?.grid === "adaptive";
  }

  // The tolerances steer adaptive methods, the step size fixed-grid ones: only what applies is editable.
  showGrid() {
    const adaptive = this.adaptive();
    byId("rtol").disabled = !adaptive;
    byId("atol").disabled = !adaptive;
    byId("step-size").disabled = adaptive;
    byId("solver-hint").textContent = adaptive
      ? "Adaptive: each input gets its own steps, as many as rtol and atol ask for."
      : "Fixed grid: every input takes steps of this size.";
  }

  // The request's "solver" object: what the panel shows, checked before anything is sent.
  settings() {
    const method = byId("method").value;
    if (this.adaptive()) return { method, rtol: positive("rtol", 1), atol: positive("atol", 1) };
    return { method, step_size: positive("step-size", Infinity) };
  }
}

function positive(id, below) {
  const text = byId(id).value.trim();
  const value = Number(text);
  if (text === "" || !Number.isFinite(value) || value <= 0 || value >= below) {
    throw new Error(`${id}: "${text}" is not a number above 0${below === 1 ? " and below 1" : ""}`);
  }
  return value;
}

export function showCurl(path, body) {
  const url = new URL(path, window.location.origin).href;
  const json = JSON.stringify(body);
  const lines = [`curl -X POST '${url}'`, "  -H 'Content-Type: application/json'"];
  if (usesKey()) lines.push('  -H "X-API-Key: $ODESERVE_API_KEY"');
  lines.push(`  -d '${json.replaceAll("'", "'\\''")}'`);
  const pre = byId("curl");
  pre.textContent = lines.join(" \\\n");
  pre.dataset.url = url;
  pre.dataset.body = json;
}
