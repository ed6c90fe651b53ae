"""The dashboard (``seisim app``): its choices and runs, and the real page in a headless browser.

The browser test starts ``seisim app`` in a subprocess, drives Debian's chromium through
chromedriver (Selenium) as a person would: pick a region and a scenario from the user's own
``scenarios/`` folder, move a lever slider with the keyboard, set the replications, press Run,
wait for the results. It then checks that the probabilities the page shows are those
``sim.monte_carlo`` gives for the same scenario, levers, seed and replications, and saves a
screenshot to ``test-artifacts/dashboard.png`` for a person to look at.

The browser comes from ``tests/setup-browser.sh`` (``make test`` runs it). Without chromium and
chromedriver the browser test fails with the reason; ``SEISIM_SKIP_BROWSER_TESTS=1`` skips it
instead, for machines where no browser can be installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sim
from sim.app import session
from sim.errors import InputError
from sim.paths import SHIPPED_SCENARIOS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SHARE_TARGET = "sei_output_share_2026"


def _user_scenario(folder: Path) -> Path:
    """A scenario in the user's own folder: Fuling with its district fund, under another name
    and seed, so the test also shows that the page finds the user's scenarios."""
    (folder / "scenarios").mkdir(parents=True, exist_ok=True)
    path = folder / "scenarios" / "my-fuling-fund.yaml"
    path.write_text(f"extends: {Path(SHIPPED_SCENARIOS) / 'fuling-district-fund.yaml'}\n"
                    "name: my-fuling-fund\n"
                    "question: Fuling's district fund, as I would set it.\n"
                    "monte_carlo: {seed: 4242}\n", encoding="utf-8")
    return path


# Without a browser --------------------------------------------------------------------------------
def test_lever_sliders_come_from_the_lever_model():
    controls = {c.key: c for c in session.lever_controls()}
    assert {"levers.fund.scale", "levers.talent.supply", "levers.attraction",
            "levers.rd_policy", session.PARK_EXPANSION} <= set(controls)
    fund = controls["levers.fund.scale"]
    assert fund.low == 0 and fund.default == 1.0 and fund.high == session.SLIDER_SPAN
    assert controls["levers.rd_policy"].low > 0  # the model refuses rd_policy = 0
    # None-valued levers ("keep the plan's value") have no slider.
    assert "levers.fund.leverage" not in controls


def test_user_scenarios_are_listed_and_a_broken_one_is_reported(tmp_path):
    _user_scenario(tmp_path)
    (tmp_path / "scenarios" / "broken.yaml").write_text("name: broken\nregion: atlantis\n",
                                                        encoding="utf-8")
    choices = {c.name: c for c in session.scenario_choices(tmp_path)}
    assert choices["my-fuling-fund"].region == "fuling"
    assert choices["fuling-baseline"].region == "fuling"  # shipped ones as well
    assert choices["broken"].region is None and "atlantis" in choices["broken"].problem
    assert "fuling" in session.regions(list(choices.values()))


def test_lever_values_are_applied_and_checked(tmp_path):
    sc = sim.load_scenario(_user_scenario(tmp_path))
    changed = session.with_levers(sc, {"levers.fund.scale": 1.5, session.PARK_EXPANSION: 0.2})
    assert changed.spec.levers.fund.scale == 1.5
    assert changed.spec.levers.parks.expansion == {"all": 0.2}
    assert session.status_quo(changed).spec.levers == type(sc.spec.levers)()
    with pytest.raises(InputError, match="unknown lever"):
        session.with_levers(sc, {"levers.fund.size": 2})
    with pytest.raises(InputError, match="fund"):
        session.with_levers(sc, {"levers.fund.scale": -1})


def test_levers_the_model_cannot_move_are_reported():
    """Fuling's plan names no fund: the fund slider is disabled with the model's reason, and
    enabled once a scenario declares a fund."""
    assert "no fund" in session.lever_problems(sim.load_scenario("fuling-baseline"))[
        "levers.fund.scale"]
    assert session.lever_problems(sim.load_scenario("fuling-district-fund")) == {}


def test_a_run_reports_progress_and_cleans_up(tmp_path):
    sc = sim.load_scenario(_user_scenario(tmp_path))
    seen = []
    run = session.run_dashboard(sc, {"levers.attraction": 1.2}, replications=20,
                                progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 40) and seen[-1] == (40, 40)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert run.adjusted.scenario.spec.levers.attraction == 1.2
    assert run.baseline.scenario.spec.levers.attraction == 1.0
    assert run.target_table()["p_met"].notna().any()
    run.cleanup()
    assert not run.run_dir.exists()


def test_bad_port_is_a_one_line_error(capsys):
    from sim.cli import main

    assert main(["app", "--no-browser", "--port", "70000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seisim: error:") and "\n" not in err and "--port" in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["app", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seisim: error:") and "\n" not in err and "in use" in err


def test_missing_extra_is_a_one_line_hint(capsys, monkeypatch):
    from sim.cli import main

    monkeypatch.setitem(sys.modules, "solara", None)  # as if seisim[app] were not installed
    assert main(["app", "--no-browser", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "seisim[app]" in err


# In a browser -------------------------------------------------------------------------------------
def _browser_paths() -> tuple[str, str]:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    reason = ("no headless browser: install chromium and chromium-driver (tests/setup-browser.sh "
              "does it as root with apt-get), or set SEISIM_SKIP_BROWSER_TESTS=1 to skip")
    if os.environ.get("SEISIM_SKIP_BROWSER_TESTS") == "1":
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path):
    """``seisim app`` running in ``tmp_path`` (with a user scenario there); yields its URL."""
    _user_scenario(tmp_path)
    port = _free_port()
    log = open(tmp_path / "server.log", "w+", encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", "--no-browser",
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"

    def server_log() -> str:
        log.flush()
        return (tmp_path / "server.log").read_text(encoding="utf-8")[-3000:]

    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"seisim app exited with {proc.returncode}:\n{server_log()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"seisim app did not answer on {url}:\n{server_log()}")
            time.sleep(0.5)
        yield url, server_log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    browser_path, driver_path = _browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]'", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1500,1300", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float, what: str, log=None):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(StaleElementReferenceException,)
                             ).until(lambda d: condition(d))
    except TimeoutException:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "dashboard-failure.png"))
        pytest.fail(f"timed out after {timeout}s waiting for {what} (screenshot: "
                    f"test-artifacts/dashboard-failure.png)" +
                    (f"\nserver log:\n{log()}" if log else ""))


def _choose(driver, label: str, item: str, log) -> None:
    """Open the drop-down labelled ``label`` and click ``item`` in its list."""
    from selenium.webdriver.common.by import By

    field = _wait(driver, lambda d: d.find_element(
        By.XPATH, f"//div[contains(@class,'v-select')][.//label[normalize-space()='{label}']]"),
        30, f"the {label} drop-down", log)
    field.find_element(By.CSS_SELECTOR, ".v-select__slot").click()
    option = _wait(driver, lambda d: next(
        (e for e in d.find_elements(By.CSS_SELECTOR, ".menuable__content__active .v-list-item")
         if e.text.strip() == item and e.is_displayed()), None),
        10, f"'{item}' in the {label} list", log)
    option.click()
    _wait(driver, lambda d: field.find_element(By.CSS_SELECTOR, ".v-select__selection").text
          .strip() == item, 10, f"{label} to show '{item}'", log)


def _lever_value(driver, key: str) -> float:
    from selenium.webdriver.common.by import By

    return float(driver.find_element(By.CSS_SELECTOR, f'[data-lever="{key}"]')
                 .get_attribute("data-value"))


@pytest.mark.slow
def test_dashboard_in_a_browser_matches_the_library(dashboard, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    url, log = dashboard
    driver = browser
    driver.get(url)

    _choose(driver, "Region", "fuling", log)
    _choose(driver, "Scenario", "my-fuling-fund", log)

    # Move the attraction slider four steps right with the keyboard, as a person can (at 1.2 it
    # changes the share target's probability for this seed, so ignored levers would show).
    key = "levers.attraction"
    before = _lever_value(driver, key)
    slider = driver.find_element(By.CSS_SELECTOR, ".lever-levers-attraction [role='slider']")
    driver.execute_script("arguments[0].focus()", slider)
    for _ in range(4):
        slider.send_keys(Keys.ARROW_RIGHT)
    _wait(driver, lambda d: _lever_value(d, key) > before, 10, "the lever to move", log)
    attraction = _lever_value(driver, key)
    assert attraction == pytest.approx(before + 4 * 0.05)

    replications = 40
    field = driver.find_element(
        By.XPATH, "//div[contains(@class,'v-text-field')][.//label[normalize-space()="
                  "'Replications']]//input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(replications), Keys.ENTER)
    button = driver.find_element(By.CSS_SELECTOR, ".run-button")
    _wait(driver, lambda d: button.text.strip().lower() == f"run {replications} replications",
          10, "the Run button to show the replications", log)
    button.click()
    seen_progress = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".run-progress")
                          or d.find_elements(By.ID, "target-table"), 30, "the run to start", log)
    assert seen_progress and seen_progress[0].get_attribute("class").find("run-progress") >= 0, \
        "no progress indicator while the Monte Carlo ran"
    table = _wait(driver, lambda d: d.find_element(By.ID, "target-table"), 120,
                  "the target table", log)
    summary = driver.find_element(By.CSS_SELECTOR, "[data-run-seed]")
    assert summary.get_attribute("data-run-seed") == "4242"  # the user scenario's own seed
    assert summary.get_attribute("data-run-replications") == str(replications)

    ARTIFACTS.mkdir(exist_ok=True)
    driver.execute_script("arguments[0].scrollIntoView()", table)
    driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    row = table.find_element(By.CSS_SELECTOR, f'tr[data-target="{SHARE_TARGET}"]')
    shown = row.find_element(By.CSS_SELECTOR, ".p-met").text
    shown_status_quo = row.find_element(By.CSS_SELECTOR, ".p-status-quo").text

    # The same question put to the library directly.
    sc = sim.load_scenario(tmp_path / "scenarios" / "my-fuling-fund.yaml")
    chosen = sim.monte_carlo(sc.with_overrides({"levers.attraction": attraction}),
                             replications=replications, backend="serial", progress=False,
                             out=tmp_path / "check-chosen")
    status_quo = sim.monte_carlo(sc, replications=replications, backend="serial",
                                 progress=False, out=tmp_path / "check-status-quo")
    p = chosen.targets().set_index("target").loc[SHARE_TARGET, "p_met"]
    p0 = status_quo.targets().set_index("target").loc[SHARE_TARGET, "p_met"]
    assert p != p0, "the lever should matter here; pick another lever or seed"
    assert shown == f"{p:.1%}"
    assert float(row.get_attribute("data-p-met")) == p
    assert shown_status_quo == f"{p0:.1%}"
    # Every evaluated target is in the table.
    evaluated = set(chosen.targets().dropna(subset=["p_met"])["target"])
    rows = {r.get_attribute("data-target")
            for r in table.find_elements(By.CSS_SELECTOR, "tr[data-target]")}
    assert evaluated <= rows
    print(f"browser test took {time.monotonic() - started:.0f} s")
