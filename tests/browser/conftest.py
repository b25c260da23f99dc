"""Fixtures for the console's browser tests: `rewardgate demo --keep` on SQLite or PostgreSQL
(sandbox upstreams, a demo merchant, orders of every kind with callbacks), and headless Debian
Chromium driven through Debian's chromedriver (WebDriver) by selenium. Nothing is downloaded:
scripts/browser-deps.sh installs the two Debian packages, and selenium is told where they are.

Environment:
  RG_BIN           the rewardgate binary (default: <repo>/target/debug/rewardgate)
  RG_TEST_PG_URL   PostgreSQL for the postgres run (default postgres://postgres@127.0.0.1:5432/test)
  RG_SCREENSHOTS   where screenshots go (default: <repo>/target/screenshots)
"""
import os
import re
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PG_URL = os.environ.get("RG_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
SHOTS = Path(os.environ.get("RG_SCREENSHOTS") or (REPO / "target" / "screenshots"))


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """A running `demo --keep`: its addresses, admin token and log."""

    def __init__(self, backend, base, sandbox, token, log):
        self.backend, self.base, self.sandbox, self.token, self.log = backend, base, sandbox, token, log
        self.http = requests.Session()
        self.http.trust_env = False

    def admin(self, method, path, body=None):
        r = self.http.request(method, self.base + "/admin/v1" + path, json=body,
                              headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        assert r.status_code == 200, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json()


def _database(backend):
    """A fresh database URL for one run, and how to drop it afterwards."""
    if backend == "sqlite":
        d = tempfile.mkdtemp(prefix="rg-browser-")
        return f"sqlite://{d}/console.db", lambda: None
    name = f"rg_browser_{uuid.uuid4().hex[:12]}"
    admin = PG_URL
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    url = admin.rsplit("/", 1)[0] + "/" + name
    return url, lambda: subprocess.run(["psql", admin, "-qc", f"DROP DATABASE {name} WITH (FORCE)"],
                                       capture_output=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def demo(request):
    binary = Path(os.environ.get("RG_BIN") or (REPO / "target" / "debug" / "rewardgate"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"rewardgate binary not found at {binary}: build it or set RG_BIN", pytrace=False)
    url, drop = _database(request.param)
    port, sport = _free_port(), _free_port()
    out = tempfile.NamedTemporaryFile(prefix="rg-browser-demo-", suffix=".out", delete=False)
    env = dict(os.environ, RG_LOG="warn")
    proc = subprocess.Popen(
        [str(binary), "demo", "--keep", "--listen", f"127.0.0.1:{port}", "--sandbox-listen",
         f"127.0.0.1:{sport}", "--database-url", url, "--give-up-after-secs", "3"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        text = ""
        while "Staying up" not in text:
            text = Path(out.name).read_text(errors="replace")
            if proc.poll() is not None:
                pytest.fail(f"demo exited with {proc.returncode}:\n{text}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"demo did not finish its orders within 120 s:\n{text}", pytrace=False)
            time.sleep(0.2)
        m = re.search(r"Operator console: (\S+)/console\s+\(sign in with the admin token (\S+)\)", text)
        assert m, f"the demo does not print the console's address and token:\n{text}"
        yield Demo(request.param, m.group(1), f"http://127.0.0.1:{sport}", m.group(2), text)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        out.close()
        os.unlink(out.name)
        drop()


@pytest.fixture(scope="module")
def browser(demo):
    for p in (CHROMIUM, CHROMEDRIVER):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} is missing: run scripts/browser-deps.sh (Debian packages chromium and "
                        f"chromium-driver)", pytrace=False)
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1366,900", "--lang=en-US", "--no-proxy-server"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.implicitly_wait(2)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def shot(demo):
    """Saves a full-page screenshot under target/screenshots/<backend>-<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    backend = demo.backend

    def take(drv, name):
        h = drv.execute_script("return document.documentElement.scrollHeight")
        drv.set_window_size(1366, max(900, min(h + 200, 5000)))
        path = SHOTS / f"{backend}-{name}.png"
        drv.save_screenshot(str(path))
        drv.set_window_size(1366, 900)
        return path

    return take
