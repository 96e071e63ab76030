// The model card (the version's manifest summary), the version picker and the training report link.
import { byId, el, fixed } from "./dom.js";

export function versionPicker(model, ref) {
  const select = byId("version");
  const aliases = Object.entries(model.aliases).map(([alias, v]) => el("option", { value: alias }, `${alias} → ${v}`));
  const versions = model.versions.map((v) =>
    el("option", { value: String(v.version), disabled: v.status !== "loaded", title: v.reason ?? "" }, version(v)),
  );
  select.replaceChildren(...aliases, ...versions);
  select.value = ref;
  select.addEventListener("change", () => {
    const url = new URL(window.location.href);
    url.searchParams.set("version", select.value);
    window.location.assign(url.href);
  });
}

function version(v) {
  return v.status === "loaded" ? String(v.version) : `${v.version} (failed to load)`;
}

export function modelCard(detail) {
  const m = detail.manifest;
  const rows = [
    ["version", `${detail.version}${detail.aliases.length ? ` (${detail.aliases.join(", ")})` : ""}`],
    ["family", m.family === "anode" ? `ANODE (augmented by ${m.augment_dim})` : "Neural ODE"],
    ["description", m.description || "–"],
    ["input", `[${m.input.shape.join(", ")}] ${m.input.dtype}${m.input.feature_names ? ` (${m.input.feature_names.join(", ")})` : ""}`],
    ["classes", m.classes.join(", ")],
    ["state z(t)", `${m.state_dim} dimensions${m.augment_dim ? `, the last ${m.augment_dim} augmented (zero at t=${m.interval[0]})` : ""}`],
    ["interval", `t from ${m.interval[0]} to ${m.interval[1]}`],
    ["default solver", solverText(m.default_solver)],
  ];
  if (m.training) {
    const test = m.training.metrics.test;
    rows.push(["trained on", `${m.training.dataset}, ${m.training.epochs} epochs`]);
    if (test) rows.push(["test accuracy", `${fixed(100 * test.accuracy, 1)} %`]);
    rows.push(["NFE in training", `mean ${fixed(m.training.nfe.mean, 1)}, p95 ${m.training.nfe.p95}`]);
  }
  if (detail.golden_nfe_baseline) rows.push(["golden NFE", fixed(detail.golden_nfe_baseline.nfe_mean, 1)]);
  if (detail.backend) rows.push(["backend", detail.backend]);
  byId("card").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function solverText(s) {
  return `${s.method}, rtol ${s.rtol}, atol ${s.atol}, step ${s.step_size}, at most ${s.max_steps} steps`;
}

// The version's training report, when one was built: the model's info gives each version's
// "report" (its address, or null).
export function reportLink(summary) {
  if (!summary?.report) return;
  const link = byId("report-link");
  link.href = summary.report;
  link.hidden = false;
}
