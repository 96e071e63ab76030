"""The load balancer: deploy/haproxy/haproxy.cfg rendered for replicas on known ports, and its state.

The file is docker-compose's config as is; for the local fleet its one ``server-template`` line
(docker DNS) becomes one ``server`` line per replica, named as the template names them (api1,
api2, ...), and the listen addresses come from two environment variables the file reads.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import httpx

TEMPLATE = Path(__file__).resolve().parents[1] / "haproxy" / "haproxy.cfg"
BACKEND = "api"
_SERVER_TEMPLATE = re.compile(
    r"^(?P<indent>\s*)server-template\s+(?P<prefix>\S+)\s+\S+\s+\S+\s*(?P<params>.*)$"
)
_RESOLVERS = re.compile(r"\s*resolvers\s+\S+")
_INIT_ADDR = re.compile(r"\s*init-addr\s+\S+")


def render_config(replicas: Sequence[str], template: str | None = None) -> str:
    """The config with one ``server`` line per ``host:port`` in ``replicas`` (at least one)."""
    if not replicas:
        raise ValueError("a fleet needs at least one replica")
    lines = (TEMPLATE.read_text() if template is None else template).splitlines()
    found = [(i, match) for i, line in enumerate(lines) if (match := _SERVER_TEMPLATE.match(line))]
    if len(found) != 1:
        raise ValueError(f"expected one server-template line in the HAProxy template, found {len(found)}")
    index, match = found[0]
    params = _INIT_ADDR.sub("", _RESOLVERS.sub("", match["params"])).strip()  # DNS only
    servers = [
        f"{match['indent']}server {match['prefix']}{n} {address} {params}".rstrip()
        for n, address in enumerate(replicas, start=1)
    ]
    return "\n".join([*lines[:index], *servers, *lines[index + 1 :]]) + "\n"


def server_name(index: int) -> str:
    """The name haproxy gives replica ``index`` (0-based), in the local fleet and in docker-compose."""
    return f"{BACKEND}{index + 1}"


def command(config: Path) -> list[str]:
    """haproxy in the foreground on ``config``."""
    binary = shutil.which("haproxy")
    if binary is None:
        raise RuntimeError("haproxy is missing: apt-get install haproxy (or `make tools`)")
    return [binary, "-db", "-f", str(config)]


def environment(bind: str, stats_bind: str) -> dict[str, str]:
    """The variables the config reads: the API's and the stats page's listen addresses."""
    return {"ODESERVE_LB_BIND": bind, "ODESERVE_LB_STATS_BIND": stats_bind}


def server_stats(stats_url: str) -> dict[str, dict[str, str]]:
    """{server name: its row of the stats page's CSV} for the api backend (status, scur, ...)."""
    text = httpx.get(f"{stats_url};csv", timeout=5).raise_for_status().text
    rows = csv.DictReader(io.StringIO(text.removeprefix("# ")))
    return {
        row["svname"]: row
        for row in rows
        if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
    }


def server_states(stats_url: str) -> dict[str, str]:
    """{server name: status} of the api backend: UP, DOWN, "UP 1/2" (going down), MAINT ..."""
    return {name: row["status"] for name, row in server_stats(stats_url).items()}
