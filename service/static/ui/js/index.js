// /ui/: the models the server holds, each linked to its explorer (and each version to its own view).
import { getJson } from "./api.js";
import { el } from "./dom.js";
import { track } from "./status.js";

function explorerUrl(name, version) {
  const base = `/ui/models/${encodeURIComponent(name)}`;
  return version === undefined ? base : `${base}?version=${encodeURIComponent(version)}`;
}

function versionLinks(model) {
  const loaded = new Set(model.loaded_versions);
  return model.versions.map((v) =>
    loaded.has(v)
      ? el("a", { href: explorerUrl(model.name, v), class: "chip" }, String(v))
      : el("span", { class: "chip failed", title: "failed to load" }, String(v)),
  );
}

function row(model) {
  const aliases = Object.entries(model.aliases).map(([alias, v]) =>
    el("a", { href: explorerUrl(model.name, alias), class: "chip alias" }, `${alias} → ${v}`),
  );
  return el(
    "tr",
    { "data-model": model.name },
    el("th", { scope: "row" }, el("a", { href: explorerUrl(model.name) }, model.name)),
    el("td", {}, model.family ?? "–"),
    el("td", {}, model.input_shape ? `[${model.input_shape.join(", ")}]` : "–"),
    el("td", {}, model.classes ? model.classes.join(", ") : "–"),
    el("td", {}, ...versionLinks(model)),
    el("td", {}, ...aliases),
    el("td", {}, model.description),
  );
}

async function main() {
  const { models } = await getJson("/v1/models");
  const body = document.querySelector("#models tbody");
  body.replaceChildren(...models.map(row));
  if (models.length === 0) body.append(el("tr", {}, el("td", { colspan: 7 }, "The store holds no models.")));
}

track(main());
