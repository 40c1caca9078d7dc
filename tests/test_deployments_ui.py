"""prefect.yaml's deployments on a real Prefect server, run by a real process worker, seen in a real browser.

A Prefect server with its UI on 127.0.0.1, `prefect work-pool create` (process), `prefect --no-prompt deploy
--all` from the repository root (prefect.yaml), a worker, a run triggered through the API, and headless
Chromium (Selenium + Debian's chromium-driver) opening the UI: the run is shown Completed and its artifact
is listed. The screenshot is kept under test-artifacts/ (git-ignored). Chromium is installed with apt when
missing and the test runs as root; elsewhere it skips with the reason (a failure under CI=true).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path


from prefect_server import BIN, PrefectServer, prefect_env, stop_process_group
from browser import headless_chromium

ROOT = Path(__file__).resolve().parents[1]
POOL = "stylealign-process"
SCREENSHOTS = ROOT / "test-artifacts"


def _cli(env, *args, timeout=180) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "prefect"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"prefect {' '.join(args)}: rc {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def _wait_for_text(driver, *texts: str, timeout_s: float = 60) -> str:
    """The page's text once every one of ``texts`` is shown (the UI fills its panels one by one), or at the
    deadline whatever it shows then."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = driver.find_element("tag name", "body").text
        if all(text in body for text in texts) or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_deployment_runs_on_a_worker_and_the_ui_shows_the_run_and_its_artifact(tmp_path):
    driver = headless_chromium()
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "smoke" / "params.yaml", work / "params.yaml")
    (tmp_path / "home").mkdir()
    try:
        with PrefectServer(tmp_path / "home", ui=True) as server:
            env = prefect_env(PREFECT_API_URL=server.api_url, PREFECT_HOME=tmp_path / "client", PWD=ROOT)
            _cli(env, "work-pool", "create", POOL, "--type", "process")
            _cli(env, "--no-prompt", "deploy", "--all")
            log = open(tmp_path / "worker.log", "w")
            worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", POOL], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                flow_run_id = _run_deployment(server.api_url, work / "params.yaml", tmp_path / "worker.log")
            finally:
                stop_process_group(worker)
                log.close()
            assert (work / "models" / "parent-resolved" / "network.json").is_file()
            _check_ui(driver, f"{server.url}/runs/flow-run/{flow_run_id}")
    finally:
        driver.quit()


def _run_deployment(api_url: str, params: Path, worker_log: Path) -> str:
    """Trigger `parent/stylealign-parent` through the API and wait for its final state."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api_url) as client:
        names = sorted(f"{d.name}" for d in client.read_deployments())
        assert names == ["stylealign-analyze", "stylealign-batch-translate", "stylealign-data", "stylealign-finetune",
                         "stylealign-invert", "stylealign-morph", "stylealign-parent", "stylealign-pipeline",
                         "stylealign-report", "stylealign-translate"]
        batch = client.read_deployment_by_name("batch-translate/stylealign-batch-translate")
        assert [s.schedule.cron for s in batch.schedules] == ["0 * * * *"] and batch.work_pool_name == POOL
        deployment = client.read_deployment_by_name("parent/stylealign-parent")
        assert deployment.work_pool_name == POOL
        flow_run = client.create_flow_run_from_deployment(deployment.id, parameters={"params_path": str(params)})
        deadline = time.monotonic() + 240
        while not (state := client.read_flow_run(flow_run.id).state).is_final():
            assert time.monotonic() < deadline, worker_log.read_text()[-3000:]
            time.sleep(1)
        assert state.is_completed(), (state, worker_log.read_text()[-3000:])
        artifacts = client.read_artifacts()
        assert "parent-resolved" in {a.key for a in artifacts if a.flow_run_id == flow_run.id}
        return str(flow_run.id)


def _check_ui(driver, url: str) -> None:
    driver.get(url)
    body = _wait_for_text(driver, "Completed", "stylealign-parent")
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "prefect-ui-flow-run.png"))
    assert "Completed" in body and "stylealign-parent" in body, body[:2000]
    tab = [e for e in driver.find_elements("xpath", "//*[normalize-space(.)='Artifacts']") if e.is_displayed()]
    assert tab, "no Artifacts tab in the flow-run page"
    tab[0].click()
    body = _wait_for_text(driver, "parent-resolved", timeout_s=30)
    driver.save_screenshot(str(SCREENSHOTS / "prefect-ui-artifacts.png"))
    assert "parent-resolved" in body, body[:2000]
