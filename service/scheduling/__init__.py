"""Asyncio scheduling around the synchronous engine: batching, admission, deadlines.

:mod:`.batcher` merges concurrent requests into one solve and refuses work past a bounded queue;
:mod:`.executor` is the one place requests hand work to it, with a deadline, and records each
solve in the metrics and the request's log record.
"""
