"""The HTTP layer: pure ASGI middleware around the FastAPI app.

From the outside in: the access log (request ids), CORS, metrics, admission (a full queue refuses
at the door), the body-size limit, and the predict fast path (the innermost, answering the two
predict routes without FastAPI's per-request machinery). Each knows HTTP; none knows solvers.
"""
