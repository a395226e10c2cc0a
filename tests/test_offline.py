"""The network guard CI installs in every notebook kernel."""

import socket
import subprocess
import sys
import urllib.request

import pytest

from sslib import offline


@pytest.fixture
def guarded():
    offline.forbid_network()
    yield
    offline.allow_network()


def test_remote_connections_and_lookups_are_refused(guarded):
    with pytest.raises(offline.NetworkDisabled, match="name lookup of 'example.org'"):
        socket.getaddrinfo("example.org", 80)
    with pytest.raises(offline.NetworkDisabled, match="93.184.216.34"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    with pytest.raises(OSError, match="network access refused"):
        urllib.request.urlopen("http://example.org", timeout=1)


def test_loopback_still_works(guarded):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    conn, _ = server.accept()
    client.sendall(b"ok")
    assert conn.recv(2) == b"ok"
    for s in (client, conn, server):
        s.close()
    assert socket.getaddrinfo("localhost", 80)


def test_allow_restores_the_socket_module():
    connect = socket.socket.connect
    offline.forbid_network()
    offline.forbid_network()  # idempotent
    assert offline.network_forbidden() and socket.socket.connect is not connect
    offline.allow_network()
    assert not offline.network_forbidden() and socket.socket.connect is connect


def test_environment_switch_in_a_fresh_process():
    code = (
        "import socket; from sslib.offline import forbid_network_if_requested as f; "
        "assert f(); socket.getaddrinfo('example.org', 80)"
    )
    env = {"SSLIB_OFFLINE": "1", "PATH": ""}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode != 0 and "NetworkDisabled" in run.stderr
