"""`stylealign pipeline ...` (run/serve the Prefect flows) and `stylealign repro` (run DVC).

    stylealign pipeline run [--stage data|parent|finetune|invert|translate|morph|all] [--params FILE]
    stylealign pipeline serve [--stage ...] [--params FILE] [--name NAME] [--cron "0 3 * * *"]
    stylealign repro [--smoke] [--force] [--dry] [STAGE ...]

`run` is what every dvc.yaml stage calls. Without a Prefect server configured, Prefect starts a
temporary local one for the run (~8-20 s); `repro` starts one temporary server for all its stages instead.
To keep runs in the UI, start a server once (`prefect server start --host 127.0.0.1`) and export
`PREFECT_API_URL=http://127.0.0.1:4200/api`.
Exit codes: 0 success, 1 a stage failed, 2 invalid params/usage; errors are reported by
stylealign.cli (``stylealign: error: ...``, one line).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stylealign_core.errors import StylealignError

# == flows.pipeline.STAGES (checked by the tests)
STAGE_NAMES = ("data", "parent", "finetune", "invert", "translate", "morph", "analyze", "report")
SMOKE_DVC_YAML = "smoke/dvc.yaml"
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DVC_NO_ANALYTICS": "1"}


def _quiet_env() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


class StageFailed(StylealignError):
    """A pipeline stage was started and failed; the message names the stage and its error."""
    exit_code = 1


def _validate(params_path: str) -> None:
    """Fail fast, before a Prefect server is started: ParamsError names the file and the key."""
    from stylealign_core.params import load_params
    load_params(params_path)


def _describe(exc: BaseException) -> str:
    return str(exc) if str(exc) else type(exc).__name__


def cmd_run(args) -> int:
    _quiet_env()
    _validate(args.params)
    from flows.pipeline import STAGES, pipeline

    params_path = str(Path(args.params).absolute())  # as the flow run's parameter, unambiguous in the UI
    if args.stage == "all":
        state = pipeline(params_path=params_path, return_state=True)
    else:
        state = STAGES[args.stage](params_path=params_path, return_state=True)
    if state.is_completed():
        print(f"stylealign pipeline: stage {args.stage} completed")
        return 0
    try:
        state.result()
        problem = state.message or state.name
    except BaseException as exc:  # noqa: BLE001 - the stage's own exception, re-raised by result()
        problem = _describe(exc)
    raise StageFailed(f"stage {args.stage} {state.name.lower()}: {problem}")


def cmd_serve(args) -> int:
    _quiet_env()
    _validate(args.params)
    from flows.pipeline import STAGES, pipeline

    fl = pipeline if args.stage == "all" else STAGES[args.stage]
    kwargs = {"name": args.name or f"stylealign-{args.stage}",
              "parameters": {"params_path": str(Path(args.params).absolute())}}
    if args.cron:
        kwargs["cron"] = args.cron
    if args.interval:
        kwargs["interval"] = args.interval
    print(f"serving flow {fl.name!r} as deployment {kwargs['name']!r} (params {kwargs['parameters']['params_path']}"
          f"{', cron ' + args.cron if args.cron else ''}); start runs from the UI or with "
          f"`prefect deployment run '{fl.name}/{kwargs['name']}'`. Ctrl-C stops.", flush=True)
    fl.serve(**kwargs)
    return 0


def find_repo_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` holding a ``.dvc`` directory."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / ".dvc").is_dir():
            return d
    return None


def repro_command(smoke: bool = False, force: bool = False, dry: bool = False, targets=()) -> list[str]:
    cmd = [sys.executable, "-m", "dvc", "repro"]
    if force:
        cmd.append("--force")
    if dry:
        cmd.append("--dry")
    if targets:
        prefix = f"{SMOKE_DVC_YAML}:" if smoke else ""
        cmd += [prefix + t for t in targets]
    elif smoke:
        cmd.append(SMOKE_DVC_YAML)
    return cmd


def repro_env() -> dict:
    """The environment for `dvc repro`: this interpreter's bin directory first on PATH (so the
    stages' `stylealign` command is this installation's), analytics off."""
    env = dict(os.environ)
    env.update({k: env.get(k, v) for k, v in QUIET_ENV.items()})
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


@contextlib.contextmanager
def shared_prefect_server(env: dict):
    """Yield ``env`` pointing at a Prefect API: the one it names (PREFECT_API_URL), else one temporary local
    server started here for every stage of a `dvc repro` (each stage would otherwise start its own), stopped
    on exit. The server runs in this process's environment (its database under PREFECT_HOME)."""
    if env.get("PREFECT_API_URL"):
        yield env
        return
    from prefect.server.api.server import SubprocessASGIServer
    server = SubprocessASGIServer()
    server.start(timeout=120)
    try:
        print(f"+ one temporary Prefect server for all stages: {server.api_url} (set PREFECT_API_URL to use "
              "your own)", flush=True)
        yield dict(env, PREFECT_API_URL=server.api_url)
    finally:
        server.stop()


def cmd_repro(args) -> int:
    root = find_repo_root()
    if root is None:
        raise StylealignError("not inside a DVC repository (no .dvc directory here or above); "
                              "run `dvc init` at the repository root")
    if args.smoke and not (root / SMOKE_DVC_YAML).exists():
        raise StylealignError(f"{root / SMOKE_DVC_YAML} not found")
    env = repro_env()
    if not shutil.which("stylealign", path=env["PATH"]):
        print("stylealign: warning: `stylealign` is not on PATH; the dvc.yaml stages call it",
              file=sys.stderr)
    cmd = repro_command(args.smoke, args.force, args.dry, args.targets)
    print("+ " + " ".join(cmd[2:] if cmd[1] == "-m" else cmd), f"(in {root})", flush=True)
    if args.dry:
        return subprocess.call(cmd, cwd=root, env=env)
    with shared_prefect_server(env) as stage_env:
        return subprocess.call(cmd, cwd=root, env=stage_env)


def add_parser(subparsers) -> None:
    """Register `pipeline` (run, serve) and `repro` on an argparse subparsers object."""
    stages = (*STAGE_NAMES, "all")
    pipe = subparsers.add_parser(
        "pipeline", help="run or serve the pipeline flows (data -> parent -> finetune -> ... -> analyze -> report)",
        description="The pipeline as Prefect flows; params.yaml is the one configuration. Without a "
                    "configured Prefect server a temporary local one is started per run (~11 s). For the "
                    "UI: `prefect server start --host 127.0.0.1` and export "
                    "PREFECT_API_URL=http://127.0.0.1:4200/api.")
    pipe.set_defaults(func=lambda args: (pipe.print_help(), 2)[1])
    sub = pipe.add_subparsers(dest="pipeline_command", metavar="SUBCOMMAND")

    run = sub.add_parser("run", help="run one stage's flow, or all of them",
                         description="Run a stage's Prefect flow (what each dvc.yaml stage calls). Prefer "
                                     "`stylealign repro` to run only what changed and version the outputs.")
    run.add_argument("--stage", choices=stages, default="all", help="stage to run (default: all, in order)")
    run.add_argument("--params", default="params.yaml", metavar="FILE",
                     help="params file (default: params.yaml); relative paths in it resolve against its folder")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="serve a stage (or the whole pipeline) as a Prefect deployment",
                           description="flow.serve(): registers a deployment and runs its flow runs in this "
                                       "process until Ctrl-C. Needs a Prefect server (PREFECT_API_URL).")
    serve.add_argument("--stage", choices=stages, default="all", help="flow to serve (default: all = pipeline)")
    serve.add_argument("--params", default="params.yaml", metavar="FILE", help="params file (default: params.yaml)")
    serve.add_argument("--name", help="deployment name (default: stylealign-STAGE)")
    serve.add_argument("--cron", help="cron schedule, e.g. '0 3 * * *' (default: no schedule)")
    serve.add_argument("--interval", type=float, metavar="SECONDS", help="interval schedule in seconds")
    serve.set_defaults(func=cmd_serve)

    repro = subparsers.add_parser(
        "repro", help="run `dvc repro` (the full pipeline, or the small smoke pipeline)",
        description="Run `dvc repro` at the repository root: the pipeline of dvc.yaml (default), or with "
                    f"--smoke the few-minute pipeline of {SMOKE_DVC_YAML} (its own smoke/params.yaml; outputs "
                    "under smoke/). Only stages whose code, params or inputs changed run.")
    repro.add_argument("--smoke", action="store_true", help=f"reproduce {SMOKE_DVC_YAML} instead of dvc.yaml")
    repro.add_argument("--force", action="store_true", help="run the stages even if up to date")
    repro.add_argument("--dry", action="store_true", help="only print what would run")
    repro.add_argument("targets", nargs="*", metavar="STAGE",
                       help=f"stages to reproduce (with their upstream stages): {', '.join(STAGE_NAMES)}")
    repro.set_defaults(func=cmd_repro)
