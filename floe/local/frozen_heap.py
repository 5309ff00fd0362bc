"""Imported last by floe's run forkserver (``floe.local.forkserver.FROZEN``).

Freezing the garbage collector's view of everything the server imported keeps the
workers forked from it from touching those objects in their own collections, so the
pages stay shared copy-on-write instead of being copied into every worker (the
pre-fork pattern the ``gc.freeze`` documentation describes).
"""

import gc

gc.freeze()
