"""Training loop on tiny configs: snapshots, exact resume after SIGKILL, freezing, NaN stop, DDP."""
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.training.config import ConfigError, TrainConfig
from stylealign_core.training.loop import TrainingDiverged, batch_indices, train
from stylealign_core.training.snapshots import list_snapshots

REPO = Path(__file__).resolve().parents[1]

TINY = dict(total_kimg=0.032, batch=4, snapshot_kimg=0.016, keep_snapshots=2, grid_size=2, r1_interval=2,
            pl_interval=2, augment="bgc", augment_p=0.2, ada_interval=1, ada_kimg=1,
            network=dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16))


def blobs(n=24, res=16, seed=0):
    """Simple structured images: a coloured disc on white."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    out = np.full((n, 3, res, res), 255, np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(4, res - 4, 2).tolist() + [rng.uniform(2, 5)]
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        out[i][:, disc] = rng.integers(0, 200, 3)[:, None]
    return out


def cfg(**over):
    values = json.loads(json.dumps(TINY))
    for k, v in over.items():
        if isinstance(v, dict):
            values.setdefault(k, {}).update(v)
        else:
            values[k] = v
    return TrainConfig.from_dict(values)


def state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_training_run_writes_snapshots_log_and_grids(tmp_path):
    result = train(cfg(), blobs(), tmp_path / "run", progress=False)
    assert result["steps"] == 8 and result["kimg"] == pytest.approx(0.032)
    snaps = list_snapshots(tmp_path / "run")
    assert [s.name for s in snaps] == ["snapshot-000000016", "snapshot-000000032"]
    ckpt = load_checkpoint(snaps[-1] / "network.json")
    assert set(ckpt.networks) >= {"G", "D", "G_ema"}
    assert ckpt.metadata["kimg"] == pytest.approx(0.032)
    for name in ("reals.png", "log.parquet", "config.json", "samples/fakes000000032.png", "training-curves.png"):
        assert (tmp_path / "run" / name).is_file(), name
    import pandas as pd
    log = pd.read_parquet(tmp_path / "run" / "log.parquet")
    assert {"kimg", "loss_G", "loss_D", "augment_p", "images_per_s"} <= set(log.columns)
    assert np.isfinite(log["loss_G"]).all()
    # ADA moved p (the tiny D quickly becomes confident on 24 images, or p floors at 0)
    assert log["augment_p"].iloc[-1] != pytest.approx(0.2) or log["augment_p"].iloc[-1] == 0


def test_generator_learns_something(tmp_path):
    before = train(cfg(total_kimg=0.004, snapshot_kimg=1), blobs(), tmp_path / "a", progress=False)["G"]
    after = train(cfg(total_kimg=0.016, snapshot_kimg=1), blobs(), tmp_path / "b", progress=False)["G"]
    changed = [k for k, v in state(after).items() if not torch.equal(v, state(before)[k])]
    assert any(k.startswith("mapping.fc") for k in changed) and any(".conv1.weight" in k for k in changed)


def test_batch_indices_cover_each_epoch_once():
    idx = np.concatenate([batch_indices(3, s, 4, 12) for s in range(3)])
    assert sorted(idx.tolist()) == list(range(12))
    assert not np.array_equal(np.concatenate([batch_indices(3, s, 4, 12) for s in range(3, 6)]), idx)


def _train_script(run_dir, total_kimg, extra=""):
    return textwrap.dedent(f"""
        import json, sys, torch
        torch.set_num_threads(1)
        sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(REPO / 'tests')!r})
        from test_training import blobs, cfg
        from stylealign_core.training.loop import train
        {extra}
        train(cfg(total_kimg={total_kimg}, snapshot_kimg=0.008, keep_snapshots=50), blobs(),
              {str(run_dir)!r}, resume="latest", progress=False)
    """)


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    total = 0.048  # 12 steps, a snapshot every 2 steps
    subprocess.run([sys.executable, "-c", _train_script(tmp_path / "full", total)], check=True, timeout=300)
    # Same run, killed with SIGKILL as soon as its second snapshot exists, then resumed.
    proc = subprocess.Popen([sys.executable, "-c", _train_script(tmp_path / "killed", total)])
    deadline = time.time() + 240
    while len(list_snapshots(tmp_path / "killed")) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list_snapshots(tmp_path / "killed"))
    assert done < 6, "the run finished before it could be killed; make it longer"
    subprocess.run([sys.executable, "-c", _train_script(tmp_path / "killed", total)], check=True, timeout=300)
    a = load_checkpoint(list_snapshots(tmp_path / "full")[-1] / "network.json")
    b = load_checkpoint(list_snapshots(tmp_path / "killed")[-1] / "network.json")
    for name in ("G", "D", "G_ema"):
        sa, sb = state(a.networks[name]), state(b.networks[name])
        assert all(torch.equal(sa[k], sb[k]) for k in sa), f"{name} differs after resume"
    assert a.metadata["augment_p"] == b.metadata["augment_p"]


def test_finished_run_extended_with_larger_kimg_matches_one_long_run(tmp_path):
    # `--kimg` is read from the command line on every resume: a finished run continues to a larger total
    # from its newest snapshot, the way the default parent's recipe was raised from 1000 to 2000 kimg.
    subprocess.run([sys.executable, "-c", _train_script(tmp_path / "long", 0.048)], check=True, timeout=300)
    subprocess.run([sys.executable, "-c", _train_script(tmp_path / "ext", 0.024)], check=True, timeout=300)
    assert list_snapshots(tmp_path / "ext")[-1].name == "snapshot-000000024"
    subprocess.run([sys.executable, "-c", _train_script(tmp_path / "ext", 0.048)], check=True, timeout=300)
    a = load_checkpoint(list_snapshots(tmp_path / "long")[-1] / "network.json")
    b = load_checkpoint(list_snapshots(tmp_path / "ext")[-1] / "network.json")
    assert b.metadata["kimg"] == pytest.approx(0.048)
    for name in ("G", "D", "G_ema"):
        sa, sb = state(a.networks[name]), state(b.networks[name])
        assert all(torch.equal(sa[k], sb[k]) for k in sa), f"{name} differs after extending the run"


def test_finetune_freezing_keeps_parts_fixed(tmp_path):
    parent = train(cfg(total_kimg=0.008), blobs(), tmp_path / "parent", progress=False)

    class Parent:  # what load_checkpoint returns: networks by name
        networks = {"G": parent["G"], "D": parent["D"], "G_ema": parent["G_ema"]}

    child = train(cfg(total_kimg=0.016, finetune=dict(freeze=["mapping", "affine"], freeze_resolutions=[4],
                                                      freeze_d=2)),
                  blobs(seed=1), tmp_path / "child", parent=Parent, progress=False)
    p, c = state(parent["G"]), state(child["G"])
    frozen = [k for k in p if k.startswith("mapping.fc") or ".affine." in k or k.startswith("synthesis.b4.")]
    assert len(frozen) > 10 and all(torch.equal(p[k], c[k]) for k in frozen if "noise_const" not in k)
    assert set(child["frozen"]) >= {"mapping.fc0.weight", "synthesis.b8.conv0.affine.weight", "synthesis.b4.const"}
    assert not torch.equal(p["synthesis.b8.conv0.weight"], c["synthesis.b8.conv0.weight"])
    pd_, cd = state(parent["D"]), state(child["D"])
    assert torch.equal(pd_["b16.fromrgb.weight"], cd["b16.fromrgb.weight"])
    assert torch.equal(pd_["b16.conv0.weight"], cd["b16.conv0.weight"])
    assert not torch.equal(pd_["b16.conv1.weight"], cd["b16.conv1.weight"])


def test_non_finite_loss_stops_and_keeps_last_snapshot(tmp_path):
    run = tmp_path / "run"
    train(cfg(total_kimg=0.016), blobs(), run, progress=False)
    snap = list_snapshots(run)[-1]
    before = {p.name: p.read_bytes() for p in snap.iterdir()}
    with pytest.raises(TrainingDiverged, match=r"at step \d+"):
        train(cfg(total_kimg=0.064, lr_g=1e30, lr_d=1e30), blobs(), run, resume="latest", progress=False)
    assert list_snapshots(run)[-1] == snap
    assert {p.name: p.read_bytes() for p in snap.iterdir()} == before


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"train\.batch"):
        TrainConfig.from_dict({"batch": "abc"})
    with pytest.raises(ConfigError, match=r"train\.network\.channel_bas"):
        TrainConfig.from_dict({"network": {"channel_bas": 3}})
    with pytest.raises(ConfigError, match=r"train\.finetune\.freeze"):
        TrainConfig.from_dict({"finetune": {"freeze": ["mapping", "everything"]}})


def _ddp_worker(rank, world, init_file, out_dir):
    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO / "tests"))
    from test_training import blobs, cfg  # noqa: F401 (re-import in the child process)
    from stylealign_core.training.distributed import init_file as join, shutdown
    ctx = join(rank, world, init_file)
    try:
        result = train(cfg(total_kimg=0.024, batch=8, snapshot_kimg=1), blobs(), out_dir, dist_ctx=ctx,
                       progress=False)
        if rank == 0:
            torch.save(state(result["G"]), Path(out_dir) / "G.pt")
            torch.save(state(result["D"]), Path(out_dir) / "D.pt")
    finally:
        shutdown(ctx)


def test_two_process_gloo_matches_single_process(tmp_path):
    torch.multiprocessing.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path / "ddp")), nprocs=2)
    torch.set_num_threads(1)
    single = train(cfg(total_kimg=0.024, batch=8, batch_gpu=4, snapshot_kimg=1), blobs(), tmp_path / "one",
                   progress=False)
    for name in ("G", "D"):
        ddp = torch.load(tmp_path / "ddp" / f"{name}.pt", weights_only=True)
        for k, v in state(single[name]).items():
            # Same micro-batches, same seeds, same arithmetic: bit-identical.
            torch.testing.assert_close(ddp[k], v, rtol=0, atol=0, msg=f"{name}.{k}")


def blob_dataset(path, seed, count):
    """``count`` blob images (16 px, train split) written as a stylealign data set at ``path``."""
    import io

    from PIL import Image

    from stylealign_core.data import DatasetWriter
    with DatasetWriter(path, 16, has_masks=False) as writer:
        for i, img in enumerate(blobs(count, seed=seed)):
            buf = io.BytesIO()
            Image.fromarray(img.transpose(1, 2, 0)).save(buf, format="PNG")
            writer.add(f"img{i:03d}", buf.getvalue(), split="train")
        writer.finish({"name": path.name})
    return path


def test_finetune_api_records_lineage_and_recipe(tmp_path):
    from stylealign_core.training.api import finetune_child, read_lineage, train_parent

    parent_data, child_data = blob_dataset(tmp_path / "p", 0, 12), blob_dataset(tmp_path / "c", 1, 12)
    parent = train_parent(cfg(total_kimg=0.008), parent_data, tmp_path / "parent", progress=False)
    child = finetune_child(cfg(total_kimg=0.008), parent["checkpoint"], child_data, tmp_path / "child",
                           progress=False)
    chain = read_lineage(child["checkpoint"])
    assert [c["kind"] for c in chain] == ["child", "parent"]
    parent_ckpt = load_checkpoint(parent["checkpoint"], networks=())
    meta = load_checkpoint(child["checkpoint"], networks=()).metadata
    assert meta["parent"]["sha256"] == parent_ckpt.sha256
    assert meta["recipe"]["train"]["total_kimg"] == pytest.approx(0.008)
    assert meta["recipe"]["num_images"] == 12


def test_cpu_training_flushes_denormals(tmp_path):
    # denormal floats run through a slow microcode path on x86 CPUs (1.4x slower default-child fine-tune)
    torch.set_flush_denormal(False)  # earlier tests in this process trained on CPU too
    tiny = torch.tensor([1e-39])
    assert (tiny * 2).item() > 0
    try:
        train(cfg(total_kimg=0.004), blobs(), tmp_path / "run", progress=False)
        assert (tiny * 2).item() == 0
    finally:
        torch.set_flush_denormal(False)
