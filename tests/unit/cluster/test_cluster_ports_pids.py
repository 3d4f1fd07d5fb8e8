"""Port picking and stale-pid-file handling of the test-cluster harness (no binaries needed)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import datamill_testcluster as tc
import pytest


def test_pick_free_ports_distinct_and_bindable():
    ports = tc.pick_free_ports(5)
    assert len(set(ports)) == 5
    assert all(tc.port_is_free(p) for p in ports)


def test_pick_free_ports_skips_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert not tc.port_is_free(taken)
        assert taken not in tc.pick_free_ports(20)


def test_pick_free_ports_respects_exclude():
    first = tc.pick_free_ports(3)
    assert not set(first) & set(tc.pick_free_ports(3, exclude=first))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/x/bin/etcd", "--data-dir=STATE/etcd"], True),
        (["etcd", "--data-dir=STATE/etcd"], True),
        (["/x/bin/etcd", "--data-dir=/elsewhere/etcd"], False),  # someone else's etcd
        (["/usr/bin/python3", "--data-dir=STATE/etcd"], False),  # recycled pid, another program
        (["/x/bin/etcd-backup", "STATE"], False),
        ([], False),
        (None, False),
    ],
)
def test_is_our_process(argv, expected, tmp_path):
    cmdline = None if argv is None else [arg.replace("STATE", str(tmp_path)) for arg in argv]
    assert tc.is_our_process(cmdline, "etcd", tmp_path) is expected


def test_read_cmdline_of_self_and_of_missing_pid():
    assert tc.read_cmdline(os.getpid())
    assert tc.read_cmdline(2**22 + 12345) is None


def test_read_pid_file_garbage(tmp_path):
    path = tmp_path / "x.pid"
    assert tc.read_pid_file(path) is None
    path.write_text("not a pid")
    assert tc.read_pid_file(path) is None
    path.write_text("-4")
    assert tc.read_pid_file(path) is None
    tc.write_pid_file(path, 4242)
    assert tc.read_pid_file(path) == 4242


def test_stale_pid_files_are_removed_without_killing_strangers(tmp_path):
    state = tmp_path / "state"
    pids = state / "pids"
    # A live process that is not ours (this test runner): must survive, file removed.
    tc.write_pid_file(pids / "kube-apiserver.pid", os.getpid())
    # A dead pid: file removed.
    tc.write_pid_file(pids / "etcd.pid", 2**22 + 54321)
    report = tc.stop_from_pid_files(state)
    assert not list(pids.glob("*.pid"))
    assert any("not ours" in line for line in report)
    assert any("stale" in line for line in report)


def test_stop_kills_our_process(tmp_path):
    state = (tmp_path / "state").resolve()
    fake = tmp_path / "bin" / "kwok"  # a shell renamed "kwok", so argv[0] matches like the real binary
    fake.parent.mkdir()
    shutil.copy("/bin/sh", fake)
    proc = subprocess.Popen([str(fake), "-c", "while :; do sleep 0.1; done", f"{state}/kubeconfig"])
    try:
        # Just after exec the kernel can briefly show an empty /proc/<pid>/cmdline; wait (bounded) for argv.
        deadline = time.monotonic() + 5
        while tc.read_cmdline(proc.pid) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        tc.write_pid_file(state / "pids" / "kwok.pid", proc.pid)
        assert tc.is_our_process(tc.read_cmdline(proc.pid), "kwok", state)
        assert tc.stop_from_pid_files(state) == [f"kwok: stopped pid {proc.pid}"]
        proc.wait(timeout=5)  # already reaped by the harness
        assert tc.read_cmdline(proc.pid) is None
        assert not (state / "pids" / "kwok.pid").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_binaries_message_names_make_target(tmp_path):
    with pytest.raises(tc.MissingBinariesError, match="make cluster-bins"):
        tc.require_binaries(tmp_path)


def test_bin_dir_from_env(tmp_path):
    assert tc.bin_dir({tc.BINS_ENV: str(tmp_path)}) == tmp_path
    assert tc.bin_dir({}) == tc.DEFAULT_BIN_DIR
