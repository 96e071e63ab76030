"""What the service tells its operators: Prometheus metrics, log records, request labels.

No module here imports the HTTP layer or the model lifecycle; both report into it.
"""
