"""A probe never signals a process group it no longer owns: a dead probe's journal names its
children's groups with the leader's start time, and the repair kills a group only while its
leader is still that process (a PID reused by a stranger has another start time).  Needs no
kernel setting: the groups are plain `sleep` processes of this test."""

from __future__ import annotations

import subprocess
import time

from ptcalc.probe import journal


def _group():
    return subprocess.Popen(["sleep", "60"], start_new_session=True)   # its own group


def test_a_group_whose_leader_started_at_another_time_is_left_alone():
    child = _group()
    try:
        start = journal.process_start(child.pid)
        assert start is not None
        # the journal's start time is not this leader's: the PID was reused
        assert journal._kill_group(child.pid, start + 1) is False
        assert journal._kill_group(child.pid, None) is False
        time.sleep(0.1)
        assert child.poll() is None                       # still running: not signalled
    finally:
        child.kill()
        child.wait()


def test_the_same_leader_is_killed_and_waited_for():
    child = _group()
    start = journal.process_start(child.pid)
    assert journal._kill_group(child.pid, start) is True
    assert child.wait(timeout=10) == -9                   # SIGKILL
    assert journal.process_start(child.pid) is None       # reaped: no such process


def test_a_gone_leader_is_not_signalled():
    child = _group()
    start = journal.process_start(child.pid)
    child.kill()
    child.wait()
    assert journal.process_start(child.pid) is None
    assert journal._kill_group(child.pid, start) is False


def test_groups_killed_by_the_guard_are_struck_from_the_journal(monkeypatch):
    # a signal can stop fork_holder after the journal listed its group and before its own
    # clean-up; the guard's kill_active_groups must then say the group is gone, or the
    # journal stays (pending) after everything was restored
    from ptcalc.probe import children

    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    listed, gone = [], []
    monkeypatch.setattr(children, "GROUP_HOOKS", [listed.append, gone.append])
    monkeypatch.setattr(children, "_ACTIVE_GROUPS", {child.pid})
    children._hook(0, child.pid)                         # what fork_holder does first
    try:
        children.kill_active_groups()
    finally:
        child.kill()
        child.wait()
    assert listed == [child.pid] and gone == [child.pid]
    assert not children._ACTIVE_GROUPS
