"""dvc.yaml lists, for every stage, the core code the stage runs: a change to it re-runs the stage."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# imported by every stage as validation (see the dvc.yaml header); a stage that runs code of params_edit.py or
# params_analysis.py lists it
NOT_DEPS = {"stylealign_core/params.py", "stylealign_core/params_edit.py", "stylealign_core/params_analysis.py"}
INIT = {"seed": 0, "resolution": 8, "network": {"z_dim": 8, "w_dim": 8, "mapping_layers": 1, "channel_base": 64,
                                                "channel_max": 8}}
# What each stage's task module runs beyond its imports: the parent stage resolves an `init` parent; the
# analyze stage imports the zero-shot route a when it is enabled and the reset's translation scoring when the
# invert stage's parent table exists.
RUN = {"parent": "from stylealign_core.training.parent import resolve_parent\n"
                 f"resolve_parent('init', None, None, sys.argv[1] + '/p', init={INIT!r})\n",
       "analyze": "import stylealign_core.analysis.optin, stylealign_core.analysis.zeroshot.translate_route, "
                  "stylealign_core.analysis.reset_translation\n"}

_PROBE = """import importlib, json, os, sys
def core_files():
    return {os.path.relpath(m.__file__, os.getcwd()) for n, m in list(sys.modules.items())
            if n.split('.')[0] == 'stylealign_core' and getattr(m, '__file__', None)}
import stylealign_core
base = core_files()  # what the package itself imports (the networks): not every stage uses them
importlib.import_module('tasks.' + sys.argv[2])
"""


def _core_files_run_by(stage: str, tmp_path) -> set[str]:
    code = _PROBE + RUN.get(stage, "") + "print(json.dumps(sorted(core_files() - base)))\n"
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path), stage], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("stage", ["data", "parent", "finetune", "invert", "translate", "morph", "analyze", "report"])
def test_every_core_module_a_stage_runs_is_a_dependency(stage, tmp_path):
    deps = [d for d in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["deps"]
            if not d.startswith("${")]
    used = _core_files_run_by(stage, tmp_path) - NOT_DEPS
    assert used, "the probe saw no core module"
    uncovered = sorted(f for f in used if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps))
    assert not uncovered, f"dvc.yaml stage {stage!r} runs {uncovered} but does not list them under deps"


@pytest.mark.parametrize("dvc_file, params_file", [("dvc.yaml", "params.yaml"), ("smoke/dvc.yaml", "smoke/params.yaml")])
def test_every_listed_param_is_in_the_params_file(dvc_file, params_file):
    """`dvc repro` stops at a stage whose listed param is missing: caught here in a second, not in the smoke run."""
    params = yaml.safe_load((ROOT / params_file).read_text())
    missing = []
    for name, stage in yaml.safe_load((ROOT / dvc_file).read_text())["stages"].items():
        for key in (k for k in stage.get("params", []) if isinstance(k, str)):
            node = params
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    missing.append(f"{name}: {key}")
                    break
                node = node[part]
    assert not missing, f"listed in {dvc_file} but missing from {params_file}: {missing}"
