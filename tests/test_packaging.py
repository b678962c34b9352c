"""A wheel built from the repository, installed into a clean virtual environment, runs Herold.

The wheel must carry everything read at runtime besides the code: the templates (the top-level
``templates/``, which the wheel holds as ``publisher/_templates/``) and the Alembic migrations.
The test builds the wheel from a copy of the working tree (a ``build/`` folder left in the
checkout by an earlier build would otherwise slip stale files into it), installs it with its
dependencies (pinned by constraints.txt) into a new virtual environment without the checkout on
its path, and runs that environment's ``herold``: ``db upgrade``, ``token create``, ``serve``;
then an announcement posted to the API must be on the site that server serves and reach a
webhook receiver.

It skips only when the package index cannot be reached (building needs setuptools from it,
installing needs the dependencies); every other failure is a failure of the project.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from conftest import ROOT, warning
from fakes.webhook_receiver import Receiver
from services import free_port, wait_until_serving

SLUG = "lk-beispiel"
SECRET_VARIABLE = "HEROLD_PACKAGING_RADIO_SECRET"
SECRET = "whsec_" + base64.b64encode(b"a shared key of 32 random bytes!").decode()

CONFIG = """
[herold]
data_dir = "{data_dir}"
grace_warning_seconds = 0.2
grace_news_seconds = 0.2
log_format = "console"
log_level = "warning"

[[authorities]]
slug = "{slug}"
name = "Landkreis Beispiel"
base_url = "{base_url}"
impressum_url = "https://www.lk-beispiel.de/impressum"
privacy_url = "https://www.lk-beispiel.de/datenschutz"

  [[authorities.channels]]
  id = "website"
  type = "website"

  [[authorities.channels]]
  id = "radio"
  type = "webhook"
  url = "{webhook_url}"
  secret_env = "{secret_variable}"
"""

# What pip says when it cannot reach an index: a reason outside the project.
UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
)

# Top-level folders that never go into the wheel and can be large.
NOT_COPIED = {"benchmarks", "build", "dist", "var"}


def _copy_of_the_working_tree(target: Path) -> Path:
    def ignored(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
        return skip | (NOT_COPIED & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, target, ignore=ignored)
    return target


def _pip(*arguments: str, timeout: float) -> None:
    """``pip`` of the environment running the tests; skips the test if no index can be reached."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_environment(),
    )
    output = done.stdout + done.stderr
    said = [line.strip() for line in output.splitlines() if any(sign in line for sign in UNREACHABLE)]
    if done.returncode != 0 and said:
        pytest.skip(f"the package index cannot be reached; pip said: {said[-1][:300]}")
    assert done.returncode == 0, f"pip {' '.join(arguments)} failed:\n{output[-5000:]}"


def _clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without what would point Python or Herold elsewhere."""
    unwanted = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
    kept = {k: v for k, v in os.environ.items() if k not in unwanted and not k.startswith("HEROLD_")}
    return {**kept, **extra}


def _wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _expected_in_wheel(source: Path) -> set[str]:
    """Every file of the packages under its own name, every template under publisher/_templates/."""
    expected = set()
    for top in ("publisher", "adapters", "templates"):
        for path in (source / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(source).as_posix()
                expected.add("publisher/_" + relative if top == "templates" else relative)
    return expected


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_wheel_installed_into_a_clean_environment_serves_the_site_and_publishes(tmp_path: Path) -> None:
    # -- build the wheel -------------------------------------------------------------------------
    source = _copy_of_the_working_tree(tmp_path / "source")
    dist = tmp_path / "dist"
    _pip("wheel", "--no-deps", "--wheel-dir", str(dist), str(source), timeout=300)
    [wheel] = dist.glob("herold-*.whl")

    names = _wheel_names(wheel)
    missing = _expected_in_wheel(source) - names
    assert not missing, f"the wheel lacks (a package missing from [tool.setuptools] packages?): {sorted(missing)}"
    assert "publisher/_templates/site/style.css" in names
    assert "publisher/engine/migrations/script.py.mako" in names
    top_level = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top_level == {"publisher", "adapters"}, top_level

    # -- install it into a clean virtual environment ---------------------------------------------
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python, herold = venv / "bin" / "python", venv / "bin" / "herold"
    # This environment's pip installs into the new one; --no-compile: Python compiles on first import.
    _pip(
        "--python", str(python), "install", "--no-compile",
        "--constraint", str(ROOT / "constraints.txt"), str(wheel),
        timeout=300,
    )  # fmt: skip

    # -- run the installed package, not the checkout ---------------------------------------------
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    data_dir = tmp_path / "data"
    with Receiver() as receiver:
        config = work / "herold.toml"
        config.write_text(
            CONFIG.format(
                data_dir=data_dir.as_posix(),
                slug=SLUG,
                base_url=f"http://127.0.0.1:{port}/",
                webhook_url=receiver.url,
                secret_variable=SECRET_VARIABLE,
            ),
            encoding="utf-8",
        )
        env = _clean_environment(HEROLD_CONFIG=str(config), **{SECRET_VARIABLE: SECRET})

        def run(*command: str | Path) -> str:
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{command} failed:\n{done.stdout}{done.stderr}"
            return done.stdout

        show = "import publisher, publisher.core.templates as t; print(publisher.__file__); print(t.TEMPLATES)"
        where = run(python, "-c", show).splitlines()
        for path in where:
            assert Path(path).resolve().is_relative_to(venv.resolve()), f"not the installed package: {where}"

        assert "Database is up to date" in run(herold, "db", "upgrade")
        token = run(herold, "token", "create", "--authority", SLUG).strip()

        log = tmp_path / "serve.log"
        with log.open("wb") as output:
            server = subprocess.Popen(
                [herold, "serve", "--listen", f"127.0.0.1:{port}"],
                cwd=work,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                wait_until_serving(port, server, timeout=60)
            except RuntimeError as error:
                raise AssertionError(f"{error}:\n{log.read_text(errors='replace')[-5000:]}") from None
            base = f"http://127.0.0.1:{port}/"
            document = warning(authority=SLUG)
            answer = requests.post(
                base + "api/v1/announcements",
                json=document,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
            item_url: str = answer.json()["item_url"]
            assert item_url.startswith(base)

            page = _when_served(item_url, timeout=60)
            assert document["headline"] in page.text and "text/html" in page.headers["content-type"]
            assert "style.css" in page.text
            style = requests.get(base + "style.css", timeout=10)
            assert style.status_code == 200 and "text/css" in style.headers["content-type"]
            assert style.text == (ROOT / "templates" / "site" / "style.css").read_text(encoding="utf-8")

            received = receiver.wait_for(1, timeout=60)
            assert received, f"the webhook never arrived:\n{log.read_text(errors='replace')[-5000:]}"
            assert received[0].json()["data"]["item_url"] == item_url
        finally:
            server.terminate()  # by its pid: the server we started, nothing else
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


def _when_served(url: str, timeout: float) -> requests.Response:
    """The page at ``url`` once the server answers it with 200 (the website channel writes it soon)."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(url, timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, f"{url}: {response.status_code}"
            return response
        time.sleep(0.2)
