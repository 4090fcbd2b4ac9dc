"""`bth view` and `bth report` in a real headless Chromium, over runs made by real `bth run`s in
a real git project: the runs table sorts and filters, a run page shows its provenance and metric
chart, compare highlights what differs, a campaign page shows its verdict; a report opens from
disk with every connection refused; hostile names stay text; the server only reads, serves only
its pages, shows new runs on reload and stops cleanly on Ctrl-C. Screenshots of each page are
written under the test's tmp dir."""

from __future__ import annotations

import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from browser import console_errors, needs_chromium, network_requests, start
from project import Project, make_project

from bathos import Catalog, ConfigError, RunQuery, page_server
from bathos.describe import SHORT_ID
from bathos.pages.pages import Links, run_body

TRAIN = "scripts/experiments/train.py"
SCRIPT = """\
import argparse

import bth

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--note", default="")
args = parser.parse_args()
for step in range(5):
    bth.log(step=step, loss=args.lr * (5 - step) + args.seed / 100)
print("trained with", args.note)
"""
HOSTILE = "<script>alert(1)</script>"
HOSTILE_PARAM = "<img src=x onerror=alert(2)>"


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    """A project with a run of hostile name and param, and a campaign of four runs (two
    learning rates, two seeds each)."""
    proj = make_project(tmp_path / "proj", {TRAIN: SCRIPT})
    first = proj.bth_run("--name", HOSTILE, TRAIN, "--lr", "0.2", "--note", HOSTILE_PARAM)
    Catalog().create_campaign("lr-sweep", project=first.project,
                              hypothesis="a lower learning rate ends with a lower loss")
    for lr, seed in (("0.1", "0"), ("0.1", "1"), ("0.5", "0"), ("0.5", "1")):
        proj.bth_run("--campaign", "lr-sweep", TRAIN, "--lr", lr, "--seed", seed)
    return proj


class Served:
    """A `bth view` subprocess and the address it serves."""

    def __init__(self, proj: Project, *args: str) -> None:
        self.proc = proj.popen("view", "--no-open", "--port", "0", *args)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline().decode()
        while line.startswith("warning"):
            self.warning = line
            line = self.proc.stderr.readline().decode()
        found = re.search(r"(http://\S+/)", line)
        assert found, line
        self.url = found.group(1)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err.decode()


def assert_self_contained(html: str) -> None:
    """Nothing in the page loads from the network, and the hostile strings are only text."""
    assert not re.findall(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert HOSTILE not in html and HOSTILE_PARAM not in html


def status_of(url: str, method: str = "GET") -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method)) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def rows_shown(driver: Any, column: int | None = None) -> list[str]:
    """The text of one column (by default the id) of each row the runs table shows."""
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('section.page:not([hidden]) table.runs "
        "tbody tr')).map(tr => (arguments[0] === null ? tr.querySelector('td.mono') : "
        "tr.cells[arguments[0]]).textContent)", column))


def wait_for(check: Any, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "the page did not update"
        time.sleep(0.1)


@needs_chromium
def test_view_pages_in_a_browser(proj: Project, tmp_path: Path) -> None:
    runs = Catalog().runs(all_projects=True).to_dicts()
    served = Served(proj)
    driver = start(tmp_path / "profile")
    try:
        driver.get(served.url)
        wait_for(lambda: len(rows_shown(driver)) == 5)
        driver.save_screenshot(str(tmp_path / "runs.png"))
        assert HOSTILE in driver.find_element("css selector", "table.runs").text
        assert driver.execute_script("return window.alerted === undefined")
        # sort by the learning rate, then filter to the larger one
        lr = driver.find_element("css selector", "th[data-col='params.lr']")
        lr.click()
        column = 1 + driver.execute_script(
            "return Array.from(document.querySelectorAll('th.sortable')).findIndex("
            "th => th.dataset.col === 'params.lr')")
        assert rows_shown(driver, column) == ["0.5", "0.5", "0.2", "0.1", "0.1"]
        lr.click()
        assert driver.find_element("css selector", "th[data-col='params.lr']").get_attribute(
            "aria-sort") == "ascending"
        driver.find_element("css selector", "input.filter[data-col='params.lr']").send_keys(">0.2")
        wait_for(lambda: len(rows_shown(driver)) == 2)
        # compare the two shown: their seeds differ
        for box in driver.find_elements("css selector", "input.pick"):
            box.click()
        driver.find_element("css selector", "button.compare").click()
        wait_for(lambda: "/compare" in driver.current_url)
        seed_cells = driver.find_elements("xpath", "//table[@class='compare']//tr[th='seed']/td")
        assert [c.get_attribute("class") for c in seed_cells] == ["differs", "differs"]
        lr_cells = driver.find_elements("xpath", "//table[@class='compare']//tr[th='lr']/td")
        assert [c.get_attribute("class") for c in lr_cells] == ["", ""]
        assert driver.find_elements("css selector", "svg.chart polyline")
        assert "params" in driver.find_element("css selector", "pre.diff").text
        driver.save_screenshot(str(tmp_path / "compare.png"))
        # a run page: provenance, the metric chart, its logs; the hostile name as text
        hostile = next(r for r in runs if r["name"] == HOSTILE)
        driver.get(served.url + "run/" + hostile["id"][:8])
        provenance = driver.find_element("css selector", ".provenance").text
        for field in ("commit", "hostname", "python", hostile["id"], HOSTILE, HOSTILE_PARAM):
            assert field in provenance
        assert driver.find_element("css selector", "svg.chart title").get_attribute(
            "textContent") == "loss"
        assert "trained with" in driver.find_element("css selector", "pre.log").text
        assert "fresh" in driver.find_element("css selector", ".freshness").text
        driver.save_screenshot(str(tmp_path / "run.png"))
        # the campaign: its verdict line and a chart per metric
        driver.get(served.url + "campaign/lr-sweep")
        verdicts = driver.find_elements("css selector", "p.verdict")
        assert verdicts and "loss" in verdicts[0].text
        assert driver.find_elements("css selector", "svg.chart line.ci")
        driver.save_screenshot(str(tmp_path / "campaign.png"))
        # a new run shows on reload
        proj.bth_run(TRAIN, "--lr", "0.9")
        driver.get(served.url)
        wait_for(lambda: len(rows_shown(driver)) == 6)
        assert console_errors(driver) == []
        assert [u for u in network_requests(driver) if not u.startswith(served.url)] == []
    finally:
        driver.quit()
        code, err = served.stop()
    assert code == 0, err
    assert "Traceback" not in err and "stopped" in err


def test_view_only_reads_and_serves_only_its_pages(proj: Project) -> None:
    served = Served(proj)
    try:
        assert status_of(served.url) == 200
        assert status_of(served.url, "POST") == 405
        assert status_of(served.url, "DELETE") == 405
        assert status_of(served.url + "../../etc/passwd") == 404
        assert status_of(served.url + "static/view.js") == 404
        assert status_of(served.url + "run/nonexistent") == 404
        rebound = urllib.request.Request(served.url, headers={"Host": "evil.example:80"})
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(rebound)
    finally:
        code, err = served.stop()
    assert code == 0 and "Traceback" not in err


def test_view_of_an_unknown_project_says_so(proj: Project) -> None:
    done = proj.bth("view", "--no-open", "--port", "0", "--project", "nope")
    assert done.returncode == 2
    assert done.stderr.startswith("Error: no project nope") and "Traceback" not in done.stderr


def test_view_refuses_another_interface_unless_asked(proj: Project) -> None:
    with pytest.raises(ConfigError, match="not a loopback address"):
        page_server(Catalog, RunQuery(all_projects=True), "every project", host="0.0.0.0")
    served = Served(proj, "--host", "0.0.0.0")
    try:
        assert "anyone who can reach it" in served.warning
        assert status_of(served.url.replace("0.0.0.0", "127.0.0.1")) == 200
    finally:
        assert served.stop()[0] == 0


@needs_chromium
def test_report_opens_from_disk_with_the_network_refused(proj: Project, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = proj.bth("report", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert_self_contained(out.read_text())
    driver = start(tmp_path / "profile", offline=True)
    try:
        driver.get(out.as_uri())
        wait_for(lambda: len(rows_shown(driver)) == 5)
        assert HOSTILE in driver.find_element("css selector", "table.runs").text
        driver.save_screenshot(str(tmp_path / "report-runs.png"))
        driver.find_element("css selector", "input.search").send_keys(HOSTILE)
        wait_for(lambda: len(rows_shown(driver)) == 1)
        driver.find_element("css selector", "table.runs tbody td.mono a").click()
        wait_for(lambda: "#run-" in driver.current_url)
        page = driver.find_element("css selector", "section.page:not([hidden])")
        assert page.find_elements("css selector", "svg.chart polyline")
        assert HOSTILE_PARAM in page.find_element("css selector", ".provenance").text
        driver.save_screenshot(str(tmp_path / "report-run.png"))
        assert console_errors(driver) == []
        assert list(network_requests(driver)) == []
    finally:
        driver.quit()


def test_reports_of_a_project_a_campaign_and_named_runs(proj: Project, tmp_path: Path) -> None:
    done = proj.bth("report", "-o", str(tmp_path / "project.html"))
    assert done.returncode == 0, done.stderr
    assert_self_contained((tmp_path / "project.html").read_text())
    out = tmp_path / "campaign.html"
    done = proj.bth("report", "--campaign", "lr-sweep", "-o", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert 'class="verdict"' in html and 'class="ci ' in html
    assert html.count('class="page" id="run-') == 4
    ids = [r["id"] for r in Catalog().runs(all_projects=True).to_dicts()][:2]
    out = tmp_path / "two.html"
    done = proj.bth("report", *ids, "-o", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert html.count('id="compare"') == 1 and html.count('class="page" id="run-') == 2
    assert proj.bth("report", ids[0], "--campaign", "lr-sweep").returncode == 2


def run_sections(html: str) -> dict[str, str]:
    """A report's run pages by run id."""
    return dict(re.findall(r'<section class="page" id="run-([0-9a-z]+)">(.*?)</section>', html,
                           flags=re.DOTALL))


def test_a_reports_run_pages_each_carry_freshness_curves_lineage_and_logs(
        proj: Project, tmp_path: Path) -> None:
    first = next(r["id"] for r in Catalog().runs().to_dicts() if r["name"] == HOSTILE)
    child = proj.bth_run("--derived-from", first, TRAIN, "--lr", "0.3").id
    grandchild = proj.bth_run("--derived-from", child, TRAIN, "--lr", "0.4").id
    out = tmp_path / "report.html"
    done = proj.bth("report", "-o", str(out))
    assert done.returncode == 0, done.stderr

    pages_of = run_sections(out.read_text())
    every = [r["id"] for r in Catalog().runs().to_dicts()]
    assert sorted(pages_of) == sorted(every) and len(every) == 7
    for run_id, page in pages_of.items():
        assert '<p class="freshness"><span class="badge b-fresh">fresh</span>' in page, run_id
        assert page.count("<polyline") == 1  # its loss curve
        assert "trained with" in page  # the tail of its stdout
        # read with the others, the page is the one this run's own reads give
        assert page.removeprefix(f"<h1>Run {run_id[:SHORT_ID]}</h1>") == run_body(
            Catalog(), run_id, Links.in_report())
    middle = pages_of[child]
    assert middle.count('<path class="edge"') == 2
    assert all(f'href="#run-{r}"' in middle for r in (first, child, grandchild))
    assert all(f'href="#run-{child}"' in pages_of[r] for r in (first, grandchild))
    campaign_run = Catalog().campaign("lr-sweep").runs().to_dicts()[0]["id"]
    assert "no parents and no children" in pages_of[campaign_run]
