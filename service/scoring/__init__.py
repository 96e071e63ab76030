"""``python -m service score``: bulk scoring of a CSV or NPZ file with a stored model, no server.

The file is read in chunks (:mod:`.readers`), each chunk is solved in-process by the same engine
and solver options as the API (:mod:`.command`), and the answers are written as CSV in the input's
order (:mod:`.writer`). ``python -m service score --help`` lists the options.
"""

from .command import build_parser, main

__all__ = ["build_parser", "main"]
