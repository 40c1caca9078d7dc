"""Importers: official stylegan2-ada-pytorch pickles (never executed) and their refusals; rosinality .pt:
test_checkpoints_rosinality.py."""
import collections
import copy
import os
import pickle
import subprocess
import sys
import textwrap
import types

import pytest
import torch

from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import CheckpointError, load_checkpoint, load_generator, save_checkpoint, sha256_file
from stylealign_core.checkpoints.rosinality import generator_to_rosinality

from test_checkpoints import images, randomize

# ---- a pickle with the documented persistent-object layout ------------------------------------------
# stylegan2-ada-pytorch pickles every network module as
#   torch_utils.persistence._reconstruct_persistent_obj(meta),
#   meta = {type: 'class', version: 6, module_src: <source>, class_name, state: module __dict__}
# We recreate that layout with stand-in modules registered under the official module names while
# pickling (the reader must never import them: they are removed before loading).


class _EasyDict(dict):
    pass


def _never_called(meta):  # what the official loader would run; the safe reader must not
    raise AssertionError("the persistent-object hook must never be called by the importer")


class _Persistent:
    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return (_never_called, (self.meta,))


@pytest.fixture
def official_modules(monkeypatch):
    """Stand-ins for torch_utils.persistence and dnnlib.util during pickling only."""
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _never_called
    _never_called.__module__, _never_called.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = _EasyDict
    _EasyDict.__module__, _EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    for name, mod in {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
                      "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    yield
    # monkeypatch removes the stand-ins again after the test


def record(module, init_kwargs=None, module_src="# networks.py source would be here\n", class_name=None):
    """The persistent record of ``module`` (recursively), built from its real tensors."""
    state = {k: v for k, v in module.__dict__.items() if not k.startswith("_")}
    state.update(training=False, _parameters=collections.OrderedDict(module._parameters),
                 _buffers=collections.OrderedDict(module._buffers), _non_persistent_buffers_set=set(),
                 _forward_hooks=collections.OrderedDict(),
                 _modules={k: record(m, {}, module_src) for k, m in module._modules.items()},
                 _init_args=(), _init_kwargs=_EasyDict(init_kwargs or {}))
    state.pop("config", None)
    state.pop("style_layout", None)
    return _Persistent(dict(type="class", version=6, module_src=module_src,
                            class_name=class_name or type(module).__name__, state=state))


def official_g_kwargs(G, **synthesis):
    c = G.config
    return _EasyDict(z_dim=c["z_dim"], w_dim=c["w_dim"], c_dim=c["c_dim"], img_resolution=c["img_resolution"],
                     img_channels=c["img_channels"], mapping_kwargs=_EasyDict(num_layers=c["mapping_layers"]),
                     synthesis_kwargs=_EasyDict(channel_base=c["channel_base"], channel_max=c["channel_max"],
                                                num_fp16_res=4, conv_clamp=None, **synthesis))


def official_d_kwargs(D, **extra):
    c = D.config
    return _EasyDict(c_dim=c["c_dim"], img_resolution=c["img_resolution"], img_channels=c["img_channels"],
                     architecture="resnet", channel_base=c["channel_base"], channel_max=c["channel_max"],
                     num_fp16_res=4, conv_clamp=None, block_kwargs=_EasyDict(), mapping_kwargs=_EasyDict(),
                     epilogue_kwargs=_EasyDict(mbstd_group_size=4), **extra)


def write_official_pickle(path, G, D, protocol=4, g_synthesis=None, module_src=None, extra_entries=None):
    src = module_src or "# networks.py source would be here\n"
    aug = torch.nn.Module()
    aug.register_buffer("p", torch.tensor(0.35))
    snapshot = dict(training_set_kwargs=dict(path="data.zip", resolution=G.img_resolution),
                    G=record(G, official_g_kwargs(G, **(g_synthesis or {})), src),
                    D=record(D, official_d_kwargs(D), src),
                    G_ema=record(G, official_g_kwargs(G, **(g_synthesis or {})), src),
                    augment_pipe=record(aug, {"xflip": 1}, src, class_name="AugmentPipe"), **(extra_entries or {}))
    with open(path, "wb") as f:
        pickle.dump(snapshot, f, protocol=protocol)
    return path


@pytest.fixture
def tiny(tiny_g_kwargs, tiny_d_kwargs):
    return randomize(Generator(**tiny_g_kwargs)), randomize(Discriminator(**tiny_d_kwargs))


@pytest.mark.parametrize("protocol", [2, 4])
def test_official_pickle_imports_exactly(tmp_path, official_modules, tiny, protocol):
    G, D = tiny
    marker = tmp_path / "module_src_ran"
    src = f"open({str(marker)!r}, 'w').write('executed')\n"  # the official loader would exec this
    pkl = write_official_pickle(tmp_path / "snap.pkl", G, D, protocol=protocol, module_src=src)
    for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"):
        del sys.modules[name]  # the reader must not need (or import) the official code
    ckpt = load_checkpoint(pkl)
    assert not marker.exists()
    assert ckpt.format == "stylegan2-ada-pkl" and sorted(ckpt.networks) == ["D", "G", "G_ema"]
    assert float(ckpt.extra["augment_pipe.p"]) == pytest.approx(0.35)
    assert ckpt.metadata["num_fp16_res"] == {"G": 4, "D": 4, "G_ema": 4}
    assert ckpt.metadata["training_set_kwargs"]["path"] == "data.zip"
    assert any("num_fp16_res" in n for n in ckpt.metadata["import_notes"])
    # the same weights through our own format give bit-identical images and logits
    ours = load_checkpoint(save_checkpoint(tmp_path / "ours", {"G_ema": G, "D": D}))
    assert torch.equal(images(ckpt.networks["G_ema"]), images(ours.networks["G_ema"]))
    assert torch.equal(images(ckpt.networks["G_ema"]), images(G))
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(ckpt.networks["D"](x), D(x))
    assert ckpt.networks["G_ema"].config == G.config and ckpt.networks["D"].config == D.config


def _marker_payloads(marker):
    cmd = f"touch {marker}"
    return {
        "os.system": (os.system, (cmd,)),
        "subprocess.Popen": (subprocess.Popen, (["touch", str(marker)],)),
        "builtins.eval": (eval, (f"open({str(marker)!r}, 'w')",)),
        "builtins.exec": (exec, (f"open({str(marker)!r}, 'w')",)),
    }


class _Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("payload", ["os.system", "subprocess.Popen", "builtins.eval", "builtins.exec"])
@pytest.mark.parametrize("where", ["top", "nested"])
def test_malicious_pickles_are_refused_without_running(tmp_path, official_modules, tiny, payload, where):
    marker = tmp_path / "pwned"
    evil = _Evil(*_marker_payloads(marker)[payload])
    path = tmp_path / "evil.pkl"
    if where == "top":
        obj = {"G_ema": evil}
    else:  # hidden inside an otherwise genuine network's init kwargs
        G, D = tiny
        rec = record(G, official_g_kwargs(G))
        rec.meta["state"]["_init_kwargs"]["synthesis_kwargs"]["architecture"] = evil
        obj = {"G_ema": rec}
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    with pytest.raises(CheckpointError, match=r"evil\.pkl: unsafe .*refused global .*nothing was executed") as err:
        load_checkpoint(path)
    assert not marker.exists()
    assert {"os.system": "system", "subprocess.Popen": "Popen"}.get(payload, payload.split(".")[1]) in str(err.value)


def test_refuses_other_architectures(tmp_path, official_modules, tiny):
    G, D = tiny
    pkl = write_official_pickle(tmp_path / "resnet_g.pkl", G, D, g_synthesis={"architecture": "resnet"})
    with pytest.raises(CheckpointError, match=r"architecture='resnet' is not supported \(only 'skip'\)"):
        load_generator(pkl)
    pkl = write_official_pickle(tmp_path / "odd.pkl", G, D, g_synthesis={"mystery_option": 3})
    with pytest.raises(CheckpointError, match="unknown option mystery_option=3"):
        load_generator(pkl)
    # a StyleGAN3 generator: its synthesis network has an input layer and L*_ layers
    G3 = record(G, official_g_kwargs(G))
    G3.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["input"] = record(
        torch.nn.Linear(2, 2), {}, class_name="SynthesisInput")
    with open(tmp_path / "sg3.pkl", "wb") as f:
        pickle.dump({"G_ema": G3}, f)
    with pytest.raises(CheckpointError, match="StyleGAN3 \\(alias-free\\) generator"):
        load_generator(tmp_path / "sg3.pkl")
    with open(tmp_path / "nonet.pkl", "wb") as f:
        pickle.dump({"weights": [1, 2, 3]}, f)
    with pytest.raises(CheckpointError, match=r"no G, D or G_ema network in this pickle"):
        load_checkpoint(tmp_path / "nonet.pkl")
    pkl = write_official_pickle(tmp_path / "ok.pkl", G, D)
    with pytest.raises(CheckpointError, match="works at 16x16, expected 256x256"):
        load_generator(pkl, expect_resolution=256)


def test_truncated_pickle_and_pt(tmp_path, official_modules, tiny):
    G, D = tiny
    data = write_official_pickle(tmp_path / "full.pkl", G, D).read_bytes()
    for frac in (0.3, 0.9):
        (tmp_path / "cut.pkl").write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(CheckpointError, match=r"cut\.pkl: (truncated or )?corrupt pickle.*again"):
            load_checkpoint(tmp_path / "cut.pkl")
    sd, _ = generator_to_rosinality(G.state_dict(), G.config)
    torch.save({"g_ema": sd}, tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: truncated or corrupt torch file"):
        load_checkpoint(tmp_path / "cut.pt")


# ---- genuine reference code (only where a checkout is available) --------------------------------------
ADA = os.environ.get("STYLEGAN2_ADA_PYTORCH")

_MAKE_ADA_PKL = textwrap.dedent("""
    import copy, pickle, sys, torch
    sys.path.insert(0, sys.argv[1])
    import dnnlib
    torch.manual_seed(0)
    common = dict(c_dim=int(sys.argv[3]), img_resolution=16, img_channels=3)
    G = dnnlib.util.construct_class_by_name(class_name='training.networks.Generator', z_dim=32, w_dim=32,
        mapping_kwargs=dnnlib.EasyDict(num_layers=2), synthesis_kwargs=dnnlib.EasyDict(channel_base=256,
        channel_max=32, num_fp16_res=4, conv_clamp=256), **common).eval().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(class_name='training.networks.Discriminator', channel_base=256,
        channel_max=32, num_fp16_res=4, conv_clamp=256, block_kwargs={}, mapping_kwargs={},
        epilogue_kwargs=dict(mbstd_group_size=4), **common).eval().requires_grad_(False)
    for p in list(G.parameters()) + list(D.parameters()):
        p.data.normal_()
    G.mapping.w_avg.normal_()
    aug = dnnlib.util.construct_class_by_name(class_name='training.augment.AugmentPipe', xflip=1, rotate90=1)
    aug.p.fill_(0.4)
    with open(sys.argv[2], 'wb') as f:
        pickle.dump(dict(G=G, D=D, G_ema=copy.deepcopy(G), augment_pipe=aug,
                         training_set_kwargs=dict(path='x.zip', resolution=16)), f)
    z, c, x = torch.randn(4, 32), torch.randn(4, common['c_dim']), torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        torch.save(dict(z=z, c=c, x=x, img=G(z, c, truncation_psi=0.7, noise_mode='const', force_fp32=True),
                        logits=D(x, c, force_fp32=True)), sys.argv[2] + '.ref.pt')
""")


@pytest.mark.skipif(not ADA, reason="needs a stylegan2-ada-pytorch checkout named by $STYLEGAN2_ADA_PYTORCH")
@pytest.mark.parametrize("c_dim", [0, 3])
def test_genuine_stylegan2_ada_pickle(tmp_path, c_dim):
    pkl = tmp_path / "genuine.pkl"
    subprocess.run([sys.executable, "-c", _MAKE_ADA_PKL, ADA, str(pkl), str(c_dim)], check=True)
    ref = torch.load(str(pkl) + ".ref.pt")
    ckpt = load_checkpoint(pkl)
    c = ref["c"] if c_dim else None
    with torch.no_grad():
        img = ckpt.networks["G_ema"](ref["z"], c, truncation_psi=0.7, noise_mode="const")
        logits = ckpt.networks["D"](ref["x"], c)
    assert ((img - ref["img"]).norm() / ref["img"].norm()).item() < 1e-5
    torch.testing.assert_close(logits, ref["logits"], rtol=1e-4, atol=1e-4)
    assert float(ckpt.extra["augment_pipe.p"]) == pytest.approx(0.4)


def test_training_resumes_from_an_official_pickle(tmp_path, official_modules):
    # stylegan2-ada-pytorch's `--resume network-snapshot.pkl`: its weights and ADA p, our loop
    from stylealign_core.training.augment import augment_preset
    from stylealign_core.training.loop import _resume_weights, build_networks, train
    from test_training import blobs, cfg
    config = cfg(total_kimg=0.008)
    G, D = (randomize(net) for net in build_networks(config, 16, 3, 0))
    pkl = write_official_pickle(tmp_path / "network-snapshot-000100.pkl", G, D)
    fresh_G, fresh_D = build_networks(config, 16, 3, 0)
    fresh_G_ema, pipe = copy.deepcopy(fresh_G), augment_preset("bgc")
    step, nimg, (lineage,) = _resume_weights(str(pkl), fresh_G, fresh_D, fresh_G_ema, pipe, batch=4, device="cpu")
    assert (step, nimg) == (0, 0)                      # an official pickle records no progress
    assert lineage["format"] == "stylegan2-ada-pkl" and lineage["sha256"] == sha256_file(pkl)
    assert float(pipe.p) == pytest.approx(0.35)
    for ours, theirs in ((fresh_G, G), (fresh_D, D), (fresh_G_ema, G)):
        a, b = ours.state_dict(), theirs.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in b)
    result = train(config, blobs(), tmp_path / "run", resume=str(pkl), progress=False)
    assert result["kimg"] == pytest.approx(0.008) and result["resumed_from"][0]["format"] == "stylegan2-ada-pkl"
