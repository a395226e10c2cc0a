"""A network guard: prove that the quick budget never leaves the machine.

The quick budget promises to read only data that ships with a dependency or that the code
generates. :func:`forbid_network` turns that promise into something a test can check: after it
runs, every attempt of this Python process to reach another host (a DNS lookup of a name that
is not local, a TCP or UDP connection to an address that is not loopback) raises
:class:`NetworkDisabled` at once, naming the address. Loopback and Unix sockets still work, so a
Jupyter kernel keeps talking to its server.

CI installs it in every kernel that runs a chapter: ``SSLIB_OFFLINE=1`` makes the IPython startup
file ``.ci/ipython/profile_default/startup/00_offline.py`` call it (see the Makefile).
"""

from __future__ import annotations

import ipaddress
import os
import socket

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_original = {}


class NetworkDisabled(OSError):
    """Raised on an attempt to reach the network while :func:`forbid_network` is in force."""


def _is_local(host) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard address
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]")
    if host.lower() in _LOCAL_NAMES or host == "":
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False  # a name that needs DNS: a network access in itself
    return address.is_loopback or address.is_unspecified


def _refuse(what: str, host) -> None:
    raise NetworkDisabled(
        f"network access refused: {what} {host!r}. This run is offline (SSLIB_OFFLINE=1 or "
        f"sslib.offline.forbid_network()); the quick budget must only use data that ships with "
        f"a dependency or that the code generates. Use the full budget for downloads."
    )


def _address_host(address):
    if isinstance(address, tuple) and address:
        return address[0]
    return None  # AF_UNIX paths are strings or bytes: local by construction


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        _refuse("connect to", address)
    return _original["connect"](self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        _refuse("connect to", address)
    return _original["connect_ex"](self, address)


def _guarded_sendto(self, data, *args):
    address = args[-1]
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(_address_host(address)):
        _refuse("send to", address)
    return _original["sendto"](self, data, *args)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        _refuse("name lookup of", host)
    return _original["getaddrinfo"](host, *args, **kwargs)


def forbid_network() -> None:
    """Make every non-local network access of this process raise :class:`NetworkDisabled`.

    Idempotent. Patches ``socket.socket`` (``connect``, ``connect_ex``, ``sendto``) and
    ``socket.getaddrinfo``, which every Python client (urllib, requests, torchvision's
    downloads) goes through; loopback and Unix sockets are left alone.
    """
    if _original:
        return
    _original.update(
        connect=socket.socket.connect,
        connect_ex=socket.socket.connect_ex,
        sendto=socket.socket.sendto,
        getaddrinfo=socket.getaddrinfo,
    )
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.socket.sendto = _guarded_sendto
    socket.getaddrinfo = _guarded_getaddrinfo


def allow_network() -> None:
    """Undo :func:`forbid_network` (tests use it to restore the process)."""
    if not _original:
        return
    socket.socket.connect = _original.pop("connect")
    socket.socket.connect_ex = _original.pop("connect_ex")
    socket.socket.sendto = _original.pop("sendto")
    socket.getaddrinfo = _original.pop("getaddrinfo")


def network_forbidden() -> bool:
    """Whether :func:`forbid_network` is in force in this process."""
    return bool(_original)


def forbid_network_if_requested() -> bool:
    """Call :func:`forbid_network` when the environment has ``SSLIB_OFFLINE=1``; say if it did."""
    if os.environ.get("SSLIB_OFFLINE", "0") == "1":
        forbid_network()
        return True
    return False
