"""A local odeserve fleet: N ``python -m service`` replicas sharing one store, behind a real HAProxy
(deploy/haproxy/haproxy.cfg), with a Prometheus scraping every replica if asked.

Command line: ``python -m deploy.fleet --help`` (``make fleet``). From Python (the tests do)::

    from deploy.fleet import FleetSpec, running_fleet
    with running_fleet(FleetSpec(workdir=Path("/tmp/fleet"), replicas=3, port=8000)) as fleet:
        ...  # fleet.url, fleet.replicas, fleet.restart(i), fleet.kill(i), fleet.lb_states()

Modules, one concept each: process (a child process and its log), replica (``python -m service``
on one port), haproxy (its config and what it sees), prometheus (its config), fleet (all of them).
"""

from .fleet import Fleet, FleetSpec, running_fleet
from .replica import ReplicaOptions

__all__ = ["Fleet", "FleetSpec", "ReplicaOptions", "running_fleet"]
