"""Fixtures for the SDK fidelity tests: the sandbox binary on free ports, the shared test keys,
and a small client for the sandbox's own JSON surface (/sandbox/v1/...).

Environment:
  RG_BIN         the rewardgate binary (default: <repo>/target/debug/rewardgate)
  RG_SHARED_DIR  the shared test data folder (default: <repo>/../shared)
"""
import itertools
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RG_SHARED_DIR") or (REPO.parent / "shared")).resolve()
TESTDATA = SHARED / "testdata"
SANDBOX_CERT = REPO / "crates" / "sandbox" / "certs" / "sandbox_cert.pem"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keys:
    """PEM texts and paths of the shared test keys."""

    def __init__(self, folder):
        missing = [n for n in ("merchant_test_private.pem", "merchant_test_public.pem", "platform_test_private.pem",
                               "platform_test_public.pem", "wx_cert.pem", "wx_key.pem") if not (folder / n).is_file()]
        if missing:
            pytest.fail(f"shared test data not found in {folder} (missing {missing}); set RG_SHARED_DIR", pytrace=False)
        self.dir = folder
        read = lambda n: (folder / n).read_text()
        self.merchant_private = read("merchant_test_private.pem")
        self.merchant_public = read("merchant_test_public.pem")
        self.platform_private = read("platform_test_private.pem")
        self.platform_public = read("platform_test_public.pem")
        self.wx_cert_path = str(folder / "wx_cert.pem")
        self.wx_key_path = str(folder / "wx_key.pem")
        self.wx_cert = read("wx_cert.pem")


class Sandbox:
    """A running sandbox: its addresses and its JSON surface."""

    def __init__(self, http_port, tls_port):
        self.http = f"http://127.0.0.1:{http_port}"
        self.https = f"https://127.0.0.1:{tls_port}"
        self.cert = str(SANDBOX_CERT)
        # The surface is plain HTTP on loopback: never through an environment proxy.
        self.s = requests.Session()
        self.s.trust_env = False

    def put(self, path, body):
        r = self.s.put(self.http + path, json=body, timeout=10)
        assert r.status_code == 200, f"PUT {path} -> {r.status_code} {r.text}"
        return r.json()

    def post(self, path, body=None):
        return self.s.post(self.http + path, json=body if body is not None else {}, timeout=10)

    def effects(self, key=None):
        r = self.s.get(self.http + "/sandbox/v1/effects", timeout=10)
        assert r.status_code == 200, r.text
        return [e for e in r.json() if key is None or e["key"] == key]


@pytest.fixture(scope="session")
def keys():
    return Keys(TESTDATA)


@pytest.fixture(scope="session")
def sandbox():
    binary = Path(os.environ.get("RG_BIN") or (REPO / "target" / "debug" / "rewardgate"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"rewardgate binary not found or not executable at {binary}: build it (cargo build -p rewardgate) "
                    f"or set RG_BIN", pytrace=False)
    if not SANDBOX_CERT.is_file():
        pytest.fail(f"sandbox server certificate not found at {SANDBOX_CERT}", pytrace=False)
    http_port, tls_port = _free_port(), _free_port()
    log = tempfile.NamedTemporaryFile(prefix="rg-sandbox-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [str(binary), "sandbox", "--listen", f"127.0.0.1:{http_port}", "--tls-listen", f"127.0.0.1:{tls_port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sb = Sandbox(http_port, tls_port)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sandbox exited with {proc.returncode} before answering /healthz:\n"
                            f"{Path(log.name).read_text()}", pytrace=False)
            try:
                if sb.s.get(sb.http + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"sandbox did not answer /healthz within 20 s:\n{Path(log.name).read_text()}", pytrace=False)
            time.sleep(0.05)
        # Both listeners must be up: the TLS one is bound before serving starts, but check anyway.
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5):
            pass
        yield sb
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        os.unlink(log.name)


_seq = itertools.count(1)


@pytest.fixture
def uid():
    """Returns a function giving a fresh number on each call (unique within the session, whose
    sandbox is fresh), for merchant ids, bill numbers, stock ids and users."""
    return lambda: next(_seq)
