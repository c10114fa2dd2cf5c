"""A piece of work run in a forked child, for the tests of what a fork must not break."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext


def in_a_forked_child(
    work: Callable[[], object],
    *,
    holding: AbstractContextManager | None = None,
    bound_s: float = 120,
) -> object:
    """What ``work()`` returns in a child forked from this process while ``holding`` is held
    (as another thread of the parent would hold a lock at the fork). The child must exit
    cleanly; one still running after ``bound_s`` is killed (a bound on a hang, not a timing
    assertion) and fails the test."""
    context = multiprocessing.get_context("fork")
    answers, answer = context.Pipe(duplex=False)
    with holding or nullcontext():
        process = context.Process(target=lambda: answer.send(work()))
        process.start()
    process.join(timeout=bound_s)
    if process.is_alive():
        process.kill()
        process.join()
    assert process.exitcode == 0
    return answers.recv()
