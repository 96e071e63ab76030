"""deploy/kubernetes: valid (offline) against Kubernetes' schemas and the vendored CRD schemas,
consistent with the service (probes, drain, writable paths, metrics), and each container, started
here exactly as its spec says, answers its probes and drains on SIGTERM.

Native kinds are checked with kubernetes-validate (strict: unknown fields fail) for every version in
KUBERNETES_VERSIONS; ServiceMonitor, PrometheusRule, ServingRuntime and InferenceService with
jsonschema against tests/deploy/schemas/ (datreeio/CRDs-catalog, see its README.md).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_harness import DASHBOARD, DEPLOY, REPO, RULE_FILES, free_port

from service.settings import Settings

K8S = DEPLOY / "kubernetes"
KSERVE = K8S / "kserve"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
DEMO_STORE = REPO / "models_store" / "demo"
DOCKERFILE = REPO / "Dockerfile"

# The Kubernetes versions whose schemas the native objects must pass: the oldest we support (1.30,
# where the preStop `sleep` action is on by default) and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30", "1.37")
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule_v1.json",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "servingruntime_v1alpha1.json",
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservice_v1beta1.json",
}
KSERVE_MODEL_DIR = "/mnt/models"  # where KServe puts an InferenceService's storageUri
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

Obj = dict[str, Any]


# --- reading the manifests ------------------------------------------------------------------------
def manifest_files(folder: Path = K8S) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if p.name != "kustomization.yaml")


def objects(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def all_objects() -> list[tuple[str, Obj]]:
    return [(f"{p.relative_to(K8S)}:{o['kind']}", o) for p in manifest_files() for o in objects(p)]


def the(kind: str) -> Obj:
    """The one object of ``kind`` under deploy/kubernetes."""
    (found,) = [o for _, o in all_objects() if o["kind"] == kind]
    return found


def dig(obj: Any, path: str) -> Any:
    """``obj`` at a dotted path; numbers index lists (``spec.containers.0``)."""
    for key in path.split(".") if path else []:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    return obj


def dockerfile_value(pattern: str) -> str:
    """The first group of the last Dockerfile line matching ``pattern`` (the run stage wins)."""
    (*_, last) = re.finditer(pattern, DOCKERFILE.read_text(), re.MULTILINE)
    return last.group(1)


# --- validation -----------------------------------------------------------------------------------
@functools.cache
def crd_schema(name: str) -> Obj:
    return json.loads((SCHEMAS / name).read_text())


def validate(obj: Obj, kubernetes_version: str) -> None:
    """Raise jsonschema.ValidationError (kubernetes-validate's subclasses it) if ``obj`` is invalid."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        jsonschema.Draft202012Validator(crd_schema(CRD_SCHEMAS[key])).validate(obj)
    else:
        used = kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        assert used == kubernetes_version  # the schemas of that very version, no fallback


def is_custom(obj: Obj) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_SCHEMAS


@pytest.mark.parametrize(("where", "obj"), all_objects(), ids=[where for where, _ in all_objects()])
def test_manifest_is_valid(where: str, obj: Obj) -> None:
    for version in KUBERNETES_VERSIONS[:1] if is_custom(obj) else KUBERNETES_VERSIONS:
        validate(obj, version)


def test_every_vendored_schema_is_used_and_licensed() -> None:
    """(A kind that has neither a vendored schema nor one in kubernetes-validate fails above.)"""
    assert set(CRD_SCHEMAS) <= {(o["apiVersion"], o["kind"]) for _, o in all_objects()}
    assert {p.name for p in SCHEMAS.glob("*.json")} == set(CRD_SCHEMAS.values())
    assert (SCHEMAS / "LICENSE").read_text().startswith("MIT License")


MISSPELLED = [
    ("Deployment", "spec", "replicsa", 3),
    ("Deployment", "spec.template.spec", "contianers", []),
    ("Deployment", "spec.template.spec.containers.0", "readinesProbe", {}),
    ("Service", "spec", "selecter", {}),
    ("HorizontalPodAutoscaler", "spec", "minReplica", 2),
    ("PodDisruptionBudget", "spec", "maxUnavailabe", 1),
    ("PersistentVolumeClaim", "spec", "accesModes", ["ReadWriteMany"]),
    ("ConfigMap", "", "dtaa", {}),
    ("ServiceMonitor", "spec", "endpoint", []),
    ("ServiceMonitor", "spec.endpoints.0", "intervall", "15s"),
    ("PrometheusRule", "spec.groups.0", "rule", []),
    ("ServingRuntime", "spec", "protocolVersion", "v2"),
    ("ServingRuntime", "spec.containers.0", "comand", ["python"]),
    ("InferenceService", "spec.predictor", "minReplica", 1),
    ("InferenceService", "spec.predictor.model", "storageURI", "pvc://odeserve-models"),
]


@pytest.mark.parametrize(
    ("kind", "path", "wrong", "value"), MISSPELLED, ids=[f"{m[0]}-{m[2]}" for m in MISSPELLED]
)
def test_a_misspelled_field_is_rejected(kind: str, path: str, wrong: str, value: Any) -> None:
    obj = copy.deepcopy(the(kind))
    place = dig(obj, path)
    assert wrong not in place
    place[wrong] = value
    for version in KUBERNETES_VERSIONS[:1] if is_custom(obj) else KUBERNETES_VERSIONS:
        with pytest.raises(jsonschema.ValidationError) as error:
            validate(obj, version)
        assert f"'{wrong}' was unexpected" in error.value.message  # (str() would print the schema)


# --- kustomize and the generated objects ----------------------------------------------------------
@pytest.mark.parametrize("folder", [K8S, KSERVE], ids=["kubernetes", "kserve"])
def test_kustomization_lists_exactly_the_manifests_of_its_folder(folder: Path) -> None:
    """``kubectl apply -k`` applies what the kustomization lists: every manifest, nothing else.
    (kubectl itself is no Debian package, so its build of the folder is not run here.)"""
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    files = sorted(p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == files and all(objects(folder / name) for name in files)


def test_generated_manifests_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_dashboard_configmap_holds_the_dashboard_file_for_the_grafana_sidecar() -> None:
    configmap = the("ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"] == {DASHBOARD.name: DASHBOARD.read_text()}  # byte for byte
    assert json.loads(configmap["data"][DASHBOARD.name]) == json.loads(DASHBOARD.read_text())


def test_prometheus_rule_holds_the_rule_files() -> None:
    groups = [group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]
    assert the("PrometheusRule")["spec"] == {"groups": groups}


# --- what the service needs -----------------------------------------------------------------------
def container_of(obj: Obj) -> Obj:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
    (container,) = spec["containers"]
    return container


def env_of(container: Obj) -> dict[str, str]:
    assert all("value" in var for var in container.get("env", [])), "only literal values are supported"
    return {var["name"]: var["value"] for var in container.get("env", [])}


def option(container: Obj, name: str) -> str | None:
    """The value the container's command line gives ``--name``, if any."""
    args = [*container["command"], *container.get("args", [])]
    return args[args.index(name) + 1] if name in args else None


def settings_of(container: Obj, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The service's settings from the container's ODESERVE_* variables and options (defaults else)."""
    for name in list(os.environ):
        if name.startswith("ODESERVE_"):
            monkeypatch.delenv(name)
    fields: dict[str, Any] = {
        name.removeprefix("ODESERVE_").lower(): value
        for name, value in env_of(container).items()
        if name.startswith("ODESERVE_")
    }
    for flag in ("--host", "--port", "--workers", "--store"):
        if (value := option(container, flag)) is not None:
            fields[flag.removeprefix("--")] = value
    return Settings(**fields)


def covering_mount(container: Obj, path: str) -> Obj | None:
    mounts = [m for m in container.get("volumeMounts", []) if f"{path}/".startswith(m["mountPath"] + "/")]
    return max(mounts, key=lambda m: len(m["mountPath"]), default=None)


RUNTIMES = ["Deployment", "ServingRuntime"]


def pod_volumes(obj: Obj) -> dict[str, Obj]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
    return {volume["name"]: volume for volume in spec.get("volumes", [])}


@pytest.mark.parametrize("kind", RUNTIMES)
def test_container_is_locked_down(kind: str) -> None:
    obj = the(kind)
    container = container_of(obj)
    security = container["securityContext"]
    pod_security = obj["spec"]["template"]["spec"]["securityContext"] if kind == "Deployment" else {}
    uid = int(dockerfile_value(r"--uid (\d+)"))
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {**pod_security, **security}["runAsNonRoot"] is True
    assert {**pod_security, **security}["runAsUser"] == uid
    assert {**pod_security, **security}["seccompProfile"] == {"type": "RuntimeDefault"}
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) >= {"cpu", "memory"}
    # The root filesystem is read-only: what is writable is an emptyDir, the image's WORKDIR among them.
    volumes = pod_volumes(obj)
    for mount in container["volumeMounts"]:
        if not mount.get("readOnly"):
            assert "emptyDir" in volumes[mount["name"]], mount
    workdir_mount = covering_mount(container, dockerfile_value(r"^WORKDIR (\S+)"))
    assert workdir_mount is not None and "emptyDir" in volumes[workdir_mount["name"]]


def test_deployment_reads_the_store_from_a_read_only_volume_and_writes_metrics_to_an_empty_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = the("Deployment")
    container = container_of(deployment)
    settings = settings_of(container, monkeypatch)
    volumes = pod_volumes(deployment)
    store_mount = covering_mount(container, str(settings.store))
    assert store_mount is not None and store_mount["readOnly"] is True
    claim = volumes[store_mount["name"]]["persistentVolumeClaim"]
    assert claim == {"claimName": the("PersistentVolumeClaim")["metadata"]["name"], "readOnly": True}
    # Several workers share one metrics folder (service/telemetry/multiprocess.py); without a name
    # it would be a fresh folder under /tmp: name it, on an emptyDir of its own.
    if settings.workers > 1:
        metrics_mount = covering_mount(container, env_of(container)[MULTIPROC_ENV])
        assert metrics_mount is not None and "emptyDir" in volumes[metrics_mount["name"]]


def test_serving_runtime_reads_the_store_where_kserve_puts_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    container = container_of(the("ServingRuntime"))
    assert container["name"] == "kserve-container"
    settings = settings_of(container, monkeypatch)
    assert str(settings.store) == KSERVE_MODEL_DIR
    assert settings.workers == 1 and MULTIPROC_ENV not in env_of(container)  # one process: in memory


def grace_seconds(kind: str) -> int:
    """terminationGracePeriodSeconds of the pods: the Deployment's, or the InferenceService's for
    the ServingRuntime (a runtime has no pod-level settings of its own)."""
    if kind == "Deployment":
        return int(the("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])
    return int(the("InferenceService")["spec"]["predictor"]["terminationGracePeriodSeconds"])


@pytest.mark.parametrize("kind", RUNTIMES)
def test_a_stop_fits_in_the_termination_grace_period(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """preStop, then SIGTERM: /readyz 503 for the drain grace, then the requests in flight finish
    within uvicorn's timeout_graceful_shutdown (service/__main__.py: shutdown_timeout_s + 1)."""
    container = container_of(the(kind))
    settings = settings_of(container, monkeypatch)
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop > 0 and settings.drain_grace_s > 0
    stop = pre_stop + settings.drain_grace_s + int(settings.shutdown_timeout_s) + 1
    assert stop <= grace_seconds(kind)
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= settings.drain_grace_s


def test_service_monitor_scrapes_the_pods_with_the_job_label_the_rules_use() -> None:
    deployment, service, monitor = the("Deployment"), the("Service"), the("ServiceMonitor")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == pod_labels
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    (container_port,) = container_of(deployment)["ports"]
    assert port["targetPort"] == container_port["name"]
    assert container_port["containerPort"] == int(dockerfile_value(r"^EXPOSE (\d+)"))
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == (port["name"], "/metrics")
    # Prometheus Operator names the job after the Service (no jobLabel): the rules' job="odeserve".
    assert "jobLabel" not in monitor["spec"]
    jobs = {job for path in RULE_FILES for job in re.findall(r'job="([^"]+)"', path.read_text())}
    assert jobs == {service["metadata"]["name"]}


def test_autoscaler_and_disruption_budget_cover_the_deployment() -> None:
    deployment, hpa, pdb = the("Deployment"), the("HorizontalPodAutoscaler"), the("PodDisruptionBudget")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_inference_service_uses_the_runtime() -> None:
    runtime, isvc = the("ServingRuntime"), the("InferenceService")
    predictor = isvc["spec"]["predictor"]
    model = predictor["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert runtime["spec"]["protocolVersions"] == ["v2"] and model["protocolVersion"] == "v2"
    assert model["storageUri"] == f"pvc://{the('PersistentVolumeClaim')['metadata']['name']}"
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    # RawDeployment scales with an HPA: on cpu or memory (concurrency and rps need Knative).
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert predictor["scaleMetric"] in ("cpu", "memory") and 0 < predictor["scaleTarget"] <= 100
    (port,) = container_of(runtime)["ports"]
    assert port["containerPort"] == 8080  # KServe's default serving port
    annotations = runtime["spec"]["annotations"]
    assert annotations["prometheus.kserve.io/port"] == annotations["prometheus.io/port"] == "8080"
    assert annotations["prometheus.kserve.io/path"] == annotations["prometheus.io/path"] == "/metrics"


# --- the containers, started here as their specs say ---------------------------------------------
def local_command(container: Obj, paths: Mapping[str, Path], port: int) -> tuple[list[str], dict[str, str]]:
    """The container's command line and environment as this machine runs them. What changes, and
    nothing else: ``python`` is this interpreter; ``--host`` is 127.0.0.1; ``--port`` (the container
    port) is ``port``; in arguments and variables, a container path under a key of ``paths`` is that
    local folder. The environment is this process's without ODESERVE_* and PROMETHEUS_MULTIPROC_DIR,
    plus the container's variables."""
    (container_port,) = [p["containerPort"] for p in container["ports"]]
    python, *args = [*container["command"], *container.get("args", [])]
    assert python == "python" and "--port" in args and "--host" in args
    command = [sys.executable]
    given = iter(args)
    for arg in given:
        if arg == "--host":
            command += [arg, "127.0.0.1"]
            next(given)
        elif arg == "--port":
            assert next(given) == str(container_port)
            command += [arg, str(port)]
        else:
            command.append(to_local(arg, paths))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODESERVE_") and k != MULTIPROC_ENV}
    env.update({name: to_local(value, paths) for name, value in env_of(container).items()})
    return command, env


def to_local(value: str, paths: Mapping[str, Path]) -> str:
    """``value`` with a leading container path that is a key of ``paths`` replaced by its folder."""
    for inside in sorted(paths, key=len, reverse=True):  # the deepest mount wins
        if value == inside or value.startswith(inside + "/"):
            return str(paths[inside]) + value[len(inside) :]
    return value


def probe_url(container: Obj, probe: str, port: int) -> str:
    """The probe's URL on the local port; its port (a name or a number) must be the container port."""
    get = container[probe]["httpGet"]
    (declared,) = container["ports"]
    assert get["port"] in (declared["containerPort"], declared.get("name"))
    return f"http://127.0.0.1:{port}{get['path']}"


def read_only_copy_of_the_demo_store(dest: Path) -> Path:
    shutil.copytree(DEMO_STORE, dest)
    for path in sorted(dest.rglob("*"), reverse=True) + [dest]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return dest


@contextmanager
def running(
    command: list[str], env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:  # the test failed before the drain: end the whole group it started
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def poll(
    client: httpx.Client, url: str, status: int, within: float, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + within
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} while waiting for {url}:\n{log.read_text()}")
        try:
            last = client.get(url).status_code
            if last == status:
                return
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"{url}: {last!r} after {within} s, not {status}:\n{log.read_text()}")


def serve_probes_then_drain(
    obj: Obj, paths: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start the container's command; its startup, liveness and readiness probes answer 200 within
    the startup budget Kubernetes gives; after SIGTERM readiness turns 503 while liveness stays 200,
    and the process exits 0 within what is left of the termination grace after the preStop sleep."""
    container = container_of(obj)
    port = free_port()
    command, env = local_command(container, paths, port)
    workdir = Path(dockerfile_value(r"^WORKDIR (\S+)"))
    cwd = paths[str(workdir)]
    startup = container["startupProbe"]
    startup_budget = (
        startup.get("initialDelaySeconds", 0) + startup["periodSeconds"] * startup["failureThreshold"]
    )
    log = tmp_path / "service.log"
    with running(command, env, cwd, log) as proc, httpx.Client(timeout=5) as client:
        poll(client, probe_url(container, "startupProbe", port), 200, startup_budget, proc, log)
        for probe in ("livenessProbe", "readinessProbe"):
            assert client.get(probe_url(container, probe, port)).status_code == 200, probe
        assert client.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
        if MULTIPROC_ENV in env:  # the workers' metrics files are in the folder the spec names
            assert list(Path(env[MULTIPROC_ENV]).glob("*.db")), "no metrics files in the emptyDir"
            assert Path(env[MULTIPROC_ENV]).is_relative_to(tmp_path)

        settings = settings_of(container, monkeypatch)
        proc.send_signal(signal.SIGTERM)  # what the kubelet does after the preStop sleep
        poll(client, probe_url(container, "readinessProbe", port), 503, settings.drain_grace_s / 2, proc, log)
        assert client.get(probe_url(container, "livenessProbe", port)).status_code == 200  # not killed
        left = grace_seconds(obj["kind"]) - container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert proc.wait(timeout=left) == 0, log.read_text()


def test_deployment_container_serves_its_probes_and_drains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each volume mount is a local folder: the PVC a read-only copy of the demo store, each
    emptyDir a new empty folder."""
    deployment = the("Deployment")
    volumes = pod_volumes(deployment)
    paths: dict[str, Path] = {}
    for mount in container_of(deployment)["volumeMounts"]:
        local = tmp_path / "volumes" / mount["name"]
        if "persistentVolumeClaim" in volumes[mount["name"]]:
            paths[mount["mountPath"]] = read_only_copy_of_the_demo_store(local)
        else:
            local.mkdir(parents=True)
            paths[mount["mountPath"]] = local
    serve_probes_then_drain(deployment, paths, tmp_path, monkeypatch)


def test_serving_runtime_container_serves_its_probes_and_drains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KServe's model folder (/mnt/models) is a read-only copy of the demo store, each emptyDir
    mount a new empty folder."""
    runtime = the("ServingRuntime")
    paths = {KSERVE_MODEL_DIR: read_only_copy_of_the_demo_store(tmp_path / "models")}
    for mount in container_of(runtime)["volumeMounts"]:
        assert "emptyDir" in pod_volumes(runtime)[mount["name"]]
        paths[mount["mountPath"]] = tmp_path / "volumes" / mount["name"]
        paths[mount["mountPath"]].mkdir(parents=True)
    serve_probes_then_drain(runtime, paths, tmp_path, monkeypatch)
