"""The dashboard in a real browser (Debian's Chromium through its ChromeDriver, headless)
against a running virtual pack with its broker, as `./run pack` starts them: every module
shown, a forced cell voltage in the heat map and its over-voltage event on the page, an
operator command applied by the master, a viewer without commands whose forged command is
refused. Screenshots go to BMS_WEB_SCREENSHOTS (default: the test's directory)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.packs import RunningPack, online_pack
from testbed.waiting import wait_until
from web.auth import add_user

pytestmark = [pytest.mark.multiprocess,
              pytest.mark.skipif(shutil.which("chromedriver") is None
                                 or shutil.which("mosquitto") is None,
                                 reason="needs chromium-driver and mosquitto (.ci/run installs "
                                        "them)")]

MODULES = 2
OPERATOR, VIEWER = ("operator", "operator-secret-1"), ("viewer", "viewer-secret-1")
START_S = 60.0  # the broker and the dashboard, once the pack is online
SHOWN_S = 10.0  # a message on the broker to the page, on a loaded machine
PAGE_LATENCY_S = 2.0  # the target: an event on the page within 2 s


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,2400"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _pack_view(url: str) -> dict[str, Any] | None:
    try:
        packs = _get(url + "api/packs")
    except (OSError, ValueError):
        return None
    return packs[0] if packs else None


def _shows_both(browser: Any) -> bool:
    # read in one script: the page redraws its rows with every message
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#modules tbody tr')].map(r => r.dataset.module);")
    return bool(shown == [str(m) for m in range(MODULES)])


async def _until(condition: Any, timeout_s: float, what: str) -> float:
    return await wait_until(condition, timeout_s, what)


def _screenshot(browser: Any, name: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{name}: an empty screenshot"
    return path


async def _in_thread(function: Any, *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)


async def _log_in(browser: Any, user: tuple[str, str]) -> None:
    def fill() -> None:
        for field, value in (("login-user", user[0]), ("login-password", user[1])):
            browser.find_element("id", field).clear()
            browser.find_element("id", field).send_keys(value)
        browser.find_element("css selector", "#login button").click()
    await _in_thread(fill)
    await _until(lambda: browser.find_element("id", "who").is_displayed(), SHOWN_S,
                 f"{user[0]} logged in")


def _fetch_command(browser: Any, csrf: str | None) -> dict[str, Any]:
    """A command request made by the page's own JavaScript (the logged-in user's cookie)."""
    return dict(browser.execute_async_script("""
        const [csrf, done] = arguments;
        const headers = {"Content-Type": "application/json"};
        if (csrf !== null) headers["X-CSRF-Token"] = csrf;
        fetch("/api/command", {method: "POST", headers, credentials: "same-origin",
              body: JSON.stringify({pack: "virtual-pack", command: "fault_reset"})})
          .then(async (r) => done({status: r.status, body: await r.json()}));
    """, csrf))


async def test_the_dashboard_in_a_browser(tmp_path: Path, browser: Any) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name, password in (OPERATOR, VIEWER):
        add_user(run_dir / "web-users", name, name if name == "operator" else "viewer",
                 password)
    screenshots = Path(os.environ.get("BMS_WEB_SCREENSHOTS") or tmp_path / "screenshots")
    pack: RunningPack
    async with online_pack(tmp_path, MODULES, "--keep-going", web=True) as pack:
        url_file = pack.run_dir / "web.url"
        await _until(url_file.exists, START_S, "the dashboard serving (web.url written)")
        url = url_file.read_text().strip()
        await _until(lambda: (_pack_view(url) or {}).get("cells") is not None, START_S,
                     "the pack's cells on the dashboard's API")

        # every module on the page
        await _in_thread(browser.get, url)
        await _until(lambda: _shows_both(browser), SHOWN_S, "a row for every module")
        assert browser.find_element("id", "state").text in ("NORMAL", "STANDBY", "PRECHARGE")
        assert not browser.find_element("id", "commands").is_displayed()  # not logged in
        _screenshot(browser, "web-overview", screenshots)

        # a forced cell voltage in the heat map, its over-voltage event on the page
        module, cell, forced_mv = 1, 3, 4300
        injected = time.time()
        inject = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bms", "inject", "cell-voltage", "--module", str(module),
            "--cell", str(cell), "--mv", str(forced_mv), "--config", str(pack.config))
        assert await asyncio.wait_for(inject.wait(), START_S) == 0

        def heat_map_value() -> Any:
            return browser.execute_script(
                "const d = document.getElementById('heatmap').data;"
                f"return d && d[0].z[{module}] ? d[0].z[{module}][{cell}] : null;")

        await _until(lambda: heat_map_value() == forced_mv, SHOWN_S,
                     "the forced voltage in the heat map")
        heat_map_s = time.time() - injected

        def event_row() -> Any:
            return browser.execute_script(
                "const r = document.querySelector("
                "\"#event-table tr[data-entry='cell_overvoltage_msl']\");"
                "return r ? {text: r.textContent, freeze: !!r.querySelector('details')} : null;")

        await _until(lambda: event_row() is not None, SHOWN_S,
                     "the cell_overvoltage_msl event on the page")
        shown = time.time()
        events = [e for e in _pack_view(url)["events"] if e["entry"] == "cell_overvoltage_msl"]
        assert events
        assert events[0]["module"] == module
        assert events[0]["element"] == cell
        event_s = shown - events[0]["t"]  # from the master setting it to the page showing it
        assert event_s <= PAGE_LATENCY_S, f"the event reached the page {event_s:.2f} s after"
        row = event_row()
        assert row["freeze"], row
        assert f"module {module} #{cell} value {forced_mv}" in row["text"], row
        assert f"module {module} cell {cell}" in browser.find_element("id", "extremes").text
        _screenshot(browser, "web-cells", screenshots)

        # an operator command, applied by the master
        await _log_in(browser, OPERATOR)
        assert browser.find_element("id", "commands").is_displayed()
        stop_balancing = "#commands button[data-command='balancing'][data-enabled='false']"
        await _in_thread(lambda: browser.find_element("css selector", stop_balancing).click())
        await _until(lambda: "accepted" in browser.find_element("id", "results").text,
                     SHOWN_S, "the master's result of the balancing command")
        await _until(lambda: _pack_view(url)["state"]["balancing"] is False, SHOWN_S,
                     "balancing off in the master's state")
        # a forged command: the operator's cookie, no CSRF token
        forged = await _in_thread(_fetch_command, browser, None)
        assert forged["status"] == 403
        assert "CSRF" in forged["body"]["error"]
        # the history charts, from the dashboard's SQLite history
        def charted() -> int:
            return int(browser.execute_script(
                "const d = document.getElementById('chart-pack').data;"
                "return d && d[0].x ? d[0].x.length : 0;"))

        await _in_thread(lambda: browser.find_element(
            "css selector", ".ranges button[data-hours='1']").click())
        await _until(lambda: charted() > 0, SHOWN_S, "the pack's history charted")
        _screenshot(browser, "web-operator", screenshots)
        await _in_thread(lambda: browser.find_element("id", "logout").click())
        await _until(lambda: browser.find_element("id", "login").is_displayed(), SHOWN_S,
                     "logged out")

        # a viewer: no command control, and a command it forges is refused
        await _log_in(browser, VIEWER)
        assert not browser.find_element("id", "commands").is_displayed()
        csrf = browser.execute_async_script(
            "fetch('/api/session').then(r => r.json()).then(s => arguments[0](s.csrf));")
        refused = await _in_thread(_fetch_command, browser, csrf)
        assert refused["status"] == 403
        assert "viewer" in refused["body"]["error"]

        # without a session at all
        request = urllib.request.Request(
            url + "api/command", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"pack": "virtual-pack", "command": "fault_reset"}).encode())
        with pytest.raises(urllib.error.HTTPError) as refusal:
            await _in_thread(lambda: urllib.request.urlopen(request, timeout=5))
        assert refusal.value.code == 401
    print(f"\ndashboard latencies: forced voltage to heat map {heat_map_s:.2f} s, "
          f"event set to page {event_s:.2f} s")
