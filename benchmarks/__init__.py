"""Benchmarks (not tests): HTTP load against a no-model floor and a naive baseline, and solver cores.

    python -m benchmarks.http_bench --duration 10     # floor, naive FastAPI + torchdiffeq, odeserve under wrk
    python -m benchmarks.solver_core                  # torchdiffeq vs each odeserve backend, per solve

See benchmarks/README.md for what is measured and how to read it.
"""
