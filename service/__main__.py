"""`python -m service ARGS`: uvicorn's command line (same ARGS), exiting 0 after a clean SIGTERM.

uvicorn re-raises the signal that stopped it once its graceful shutdown is over, so with the
default disposition the process dies "killed by SIGTERM" (exit status 143) even when every
in-flight request finished. ECS would record 143 for every routine stop. uvicorn restores the
handler it found before re-raising, so we install one that exits 0: a graceful stop reports
success. A SIGTERM that arrives before uvicorn takes over (during imports) also exits 0 at once.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.main.main(args=sys.argv[1:] if argv is None else argv, prog_name="python -m service")


if __name__ == "__main__":
    main()
