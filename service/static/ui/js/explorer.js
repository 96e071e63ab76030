// /ui/models/{name}: one model's explorer. The model name comes from the address and is only ever
// shown as text; the version (number or alias) from ?version=, "latest" by default.
import { getJson } from "./api.js";
import { modelCard, reportLink, versionPicker } from "./card.js";
import { DigitsView } from "./digits.js";
import { byId, setText } from "./dom.js";
import { FormView } from "./form.js";
import { PlaneView } from "./planeview.js";
import { SolverPanel } from "./solver.js";
import { track } from "./status.js";

// Which view a model gets: its inputs as points of a plane, as a small one-channel image, or anything.
function viewFor(shape) {
  if (shape.length === 1 && shape[0] === 2) return [PlaneView, "plane-view"];
  const image = shape.length === 2 || (shape.length === 3 && shape[0] === 1);
  if (image && shape.slice(-2).every((n) => n >= 2 && n <= 64)) return [DigitsView, "digits-view"];
  return [FormView, "form-view"];
}

async function main() {
  const name = decodeURIComponent(window.location.pathname.split("/")[3] ?? "");
  setText("model-name", name);
  document.title = `${name} · odeserve`;
  const ref = new URLSearchParams(window.location.search).get("version") ?? "latest";
  const modelPath = `/v1/models/${encodeURIComponent(name)}`;
  const [model, detail, catalogue] = await Promise.all([
    getJson(modelPath),
    getJson(`${modelPath}/versions/${encodeURIComponent(ref)}`),
    getJson("/ui/methods.json"),
  ]);
  versionPicker(model, ref);
  modelCard(detail);
  reportLink(model.versions.find((v) => v.version === detail.version));
  if (detail.status !== "loaded") throw new Error(`version ${detail.version} is not served: ${detail.reason}`);
  let view = null;
  const solver = new SolverPanel(catalogue.methods, () => track(view?.rerun()));
  solver.setDefaults(detail.manifest.default_solver);
  const [View, id] = viewFor(detail.manifest.input.shape);
  byId(id).hidden = false;
  // Every call names the version by number, so an alias moving meanwhile cannot mix two versions.
  const base = `${modelPath}/versions/${detail.version}`;
  view = new View({ base, modelPath, manifest: detail.manifest, solver: () => solver.settings() });
  await view.start();
}

track(main());
