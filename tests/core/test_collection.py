"""The command line's pause of the garbage collector while it starts: always undone, by the
data stage or by the timer, and never left on by the Python API."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import gc, threading\nfrom lake.core import collection\n" + code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_paused_collector_resumes_with_what_start_up_made_frozen():
    out = _run(
        "collection.pause()\n"
        "print(gc.isenabled(), gc.get_freeze_count() == 0)\n"
        "collection.resume()\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    assert out.splitlines() == ["False True", "True True"]


def test_resume_without_a_pause_changes_nothing():
    assert _run("collection.resume()\nprint(gc.isenabled(), gc.get_freeze_count())") == "True 0"


def test_a_collector_never_resumed_runs_again_after_at_most_its_seconds_unfrozen():
    out = _run(
        "collection.AT_MOST = 0.01\n"
        "collection.pause()\n"
        "for thread in threading.enumerate():\n"
        "    if thread is not threading.current_thread():\n"
        "        thread.join()\n"
        "print(gc.isenabled(), gc.get_freeze_count())\n"
    )
    assert out == "True 0"


def test_a_collector_disabled_by_the_application_is_left_disabled():
    out = _run("gc.disable()\ncollection.pause()\ncollection.resume()\nprint(gc.isenabled())")
    assert out == "False"


def test_the_python_api_never_pauses_it_and_an_ingest_command_ends_with_it_running(tmp_path):
    logs = tmp_path / "app.jsonl"
    logs.write_text('{"n": 1}\n')
    env = (
        "import os\n"
        f"os.environ['LAKE_WAREHOUSE'] = {str(tmp_path / 'warehouse')!r}\n"
        f"os.environ['LAKE_CATALOG_URL'] = 'sqlite:///' + {str(tmp_path / 'catalog.db')!r}\n"
    )
    api = _run(
        env + f"import lake\nlake.connect().ingest_logs('t', [{str(logs)!r}])\n"
        "print(gc.isenabled(), gc.get_freeze_count())"
    )
    assert api == "True 0"
    cli = _run(
        env + "import sys\nfrom lake.faces.cli import main\n"
        f"sys.argv = ['lake', 'ingest', 'logs', 'u', {str(logs)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code\n"
        "print('GC', gc.isenabled())\n"
    )
    assert cli.splitlines()[-1] == "GC True"


def test_a_child_forked_while_paused_collects():
    out = _run(
        "import os\n"
        "collection.pause()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if gc.isenabled() else 1)\n"
        "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), gc.isenabled())\n"
    )
    assert out == "0 False"
