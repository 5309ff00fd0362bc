"""Publications run in a child process for the write-audit-publish fault tests (issue 25):
killed between the branch write and the publish, or held at a barrier so that two of them
publish the same table at the same moment.

    python -c "from tests.integration.wap_probe import main; main()" MODE PRODUCT RUN_ID [DIR]
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def main() -> None:
    mode, product, run_id = sys.argv[1:4]
    from floe.runtime.publish import lakehouse, wap

    real = wap.publish_branch

    def killed(*args: object, **kwargs: object) -> object:
        print("branch written; killing myself before the publish", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    def at_barrier(*args: object, **kwargs: object) -> object:
        barrier = Path(sys.argv[4])
        (barrier / run_id).touch()
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    wap.publish_branch = killed if mode == "kill" else at_barrier  # type: ignore[assignment]
    env = {**os.environ, "FLOE_CATALOG": "local"}
    done = lakehouse.publish_model(Path(product), "mart_customer_360", run_id, env)
    print(f"published snapshot {done.snapshot_id}", flush=True)


if __name__ == "__main__":
    main()
