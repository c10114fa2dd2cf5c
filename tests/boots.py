"""Process records as an earlier boot of this machine left them (``lake.core.processes``)."""

from __future__ import annotations

import os
import uuid


def earlier_boot(record: dict) -> dict[str, object]:
    """The boot fields of a boot of this machine that ended before this one began, for
    ``record``'s process (its ``boot_time`` and ``started`` as :func:`this_process` gives
    them): the process's start, ticks after that boot, falls an hour before this boot
    whatever this machine's uptime. A boot a fixed two hours or a day earlier put a process
    started later than that after its boot into this one (unknown, not gone) once the
    machine had been up longer."""
    ran = record["started"] // os.sysconf("SC_CLK_TCK")
    return {"boot_id": str(uuid.uuid4()), "boot_time": record["boot_time"] - ran - 3600}
