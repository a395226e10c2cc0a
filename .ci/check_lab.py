"""Every chapter run the way a reader runs it: in JupyterLab, offline, twice the same numbers.

1. Start a JupyterLab server on 127.0.0.1 with a random token, its kernels offline
   (``SSLIB_OFFLINE=1`` with ``IPYTHONDIR=.ci/ipython``, see ``sslib/offline.py``).
2. For each chapter: fetch it through the contents API, open a kernel session, execute its code
   cells one by one over the kernel's websocket, and require every cell to succeed (cells tagged
   ``raises-exception`` must raise). Chapters run two at a time: each kernel uses one thread.
3. Compare every glued value with the one the book build glued (``_build/jupyter_execute``):
   two independent runs of a seeded chapter must give the same numbers.
4. Stop the server by its PID.

Usage: ``python .ci/check_lab.py [--build-dir _build] [--jobs 2] [chapter.ipynb ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CELL_TIMEOUT = 900  # seconds; a quick-budget chapter takes about two minutes in all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server on loopback, stopped by PID on exit."""

    def __init__(self, root: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, SSLIB_OFFLINE="1", IPYTHONDIR=str(ROOT / ".ci" / "ipython"))
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
        ]  # fmt: skip
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.log = open(ROOT / "_build" / "lab.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}; see lab.log")
            try:
                if self.session.get(f"{self.url}/api/status", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("jupyter lab did not answer on /api/status within 120 s")

    def api(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}/api/{path}", timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def execute(lab: Lab, name: str) -> dict:
    """Run chapter ``name`` in a kernel session; return its glued values and timings."""
    model = lab.api("GET", f"contents/{name}", params={"content": 1, "type": "notebook"})
    cells = model["content"]["cells"]
    session = lab.api(
        "POST",
        "sessions",
        json={"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}},
    )
    kernel = session["kernel"]["id"]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel}/channels?token={lab.token}",
        timeout=CELL_TIMEOUT,
    )
    glued, failures, start = {}, [], time.monotonic()
    try:
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            expect_error = "raises-exception" in cell.get("metadata", {}).get("tags", [])
            msg_id = uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "header": {"msg_id": msg_id, "msg_type": "execute_request",
                                   "username": "ci", "session": kernel, "version": "5.3"},
                        "parent_header": {}, "metadata": {}, "channel": "shell",
                        "content": {"code": source, "silent": False, "store_history": True,
                                    "user_expressions": {}, "allow_stdin": False,
                                    "stop_on_error": True},
                    }
                )
            )  # fmt: skip
            reply, idle = None, False
            while reply is None or not idle:
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "execute_reply":
                    reply = content
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "display_data" and "scrapbook" in content.get("metadata", {}):
                    data = content["data"]
                    text = next((v for k, v in data.items() if k.endswith("text/plain")), None)
                    glued[content["metadata"]["scrapbook"]["name"]] = text
            failed = reply["status"] != "ok"
            if failed != expect_error:
                detail = f"{reply.get('ename')}: {reply.get('evalue')}" if failed else "no error"
                failures.append(f"cell {index}: {detail}" + (" (expected one)" * expect_error))
                if failed:
                    break  # later cells depend on this one
    finally:
        ws.close()
        lab.api("DELETE", f"sessions/{session['id']}")
    return {"glued": glued, "failures": failures, "seconds": time.monotonic() - start}


def built_glue(build_dir: Path, name: str) -> dict | None:
    path = build_dir / "jupyter_execute" / "book" / name.replace(".ipynb", ".glue.json")
    if not path.exists():
        return None
    values = json.loads(path.read_text())
    return {
        key: next((v for k, v in out.get("data", {}).items() if k.endswith("text/plain")), None)
        for key, out in values.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="notebook names under book/ (default: all)")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "_build")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = args.chapters or sorted(p.name for p in BOOK.glob("*.ipynb"))
    args.build_dir.mkdir(exist_ok=True)
    lab = Lab(BOOK)
    try:
        listed = {item["name"] for item in lab.api("GET", "contents")["content"]}
        missing = sorted(set(names) - listed)
        if missing:
            print(f"FAIL: the contents API does not list {missing}")
            return 1
        with ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(names, pool.map(lambda n: execute(lab, n), names), strict=True))
    finally:
        lab.stop()
    problems = []
    for name, result in results.items():
        problems += [f"{name}: {failure}" for failure in result["failures"]]
        reference = built_glue(args.build_dir, name)
        if reference is None:
            problems.append(f"{name}: no glue record in {args.build_dir}; run `make book-ci` first")
        else:
            for key in sorted(set(reference) | set(result["glued"])):
                ours, theirs = result["glued"].get(key), reference.get(key)
                if ours != theirs:
                    problems.append(f"{name}: glue {key!r} is {ours!r} here, {theirs!r} in the book")
        print(f"{name}: {len(result['glued'])} glued values, {result['seconds']:.0f} s in the lab")
    for problem in problems:
        print("FAIL:", problem)
    if not problems:
        print(f"ok: {len(names)} chapters ran in JupyterLab offline; glued values match the book")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
