"""Prometheus for the local fleet: the jobs of deploy/prometheus/prometheus.yml with static targets.

docker-compose's config finds the replicas through docker's DNS; here every replica is a static
target of the same ``odeserve`` job (so the rules' ``up{job="odeserve"}`` means the same) and the
load balancer's exporter is the ``haproxy`` job. The rules are deploy/prometheus/rules/*.yml.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RULES = Path(__file__).resolve().parents[1] / "prometheus" / "rules"


def render_config(replicas: Sequence[str], lb_stats: str, scrape_interval_s: float = 5.0) -> str:
    """prometheus.yml (JSON, which is YAML) scraping ``replicas`` and ``lb_stats`` (host:port)."""
    interval = f"{round(scrape_interval_s * 1000)}ms"
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval if scrape_interval_s < 10 else "10s",
            "evaluation_interval": interval,
        },
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "odeserve",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": list(replicas)}],
            },
            {"job_name": "haproxy", "metrics_path": "/metrics", "static_configs": [{"targets": [lb_stats]}]},
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def command(config: Path, data: Path, listen: str) -> list[str]:
    """prometheus on ``config``, keeping its data in ``data``, serving on ``listen`` (host:port)."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus is missing: apt-get install prometheus (or `make tools`)")
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={listen}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]
