"""The two reference servers odeserve is measured against; both parse the same request body.

- ``floor_app``: answers without a model, the cost of FastAPI + uvicorn + JSON alone.
- ``naive_app``: a hand-written FastAPI + torchdiffeq endpoint, one ``odeint`` per request.
"""
