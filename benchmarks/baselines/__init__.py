"""The reference servers odeserve is measured against; all parse the same request body.

- ``floor_app``: answers without a model, the cost of FastAPI + uvicorn + JSON alone.
- ``bare_app``: a raw ASGI callable around odeserve's ONNX Runtime solve and nothing else, the
  lowest latency any server doing this solve can have here.
- ``naive_app``: a hand-written FastAPI + torchdiffeq endpoint, one ``odeint`` per request.
"""
