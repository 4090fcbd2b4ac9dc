"""capture_host: this process, on this machine."""

from __future__ import annotations

import os
import socket

from bathos.provenance.host import capture_host


def test_capture_host_describes_this_process() -> None:
    host = capture_host()

    assert host.hostname == socket.gethostname()
    assert host.pid == os.getpid()
    assert host.user
    assert host.cpu_count is not None
    assert 1 <= host.cpu_count <= (os.cpu_count() or host.cpu_count)
