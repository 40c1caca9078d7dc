"""Regenerate the golden files in tests/golden/ by running the OFFICIAL stylegan2-ada-pytorch code.

    python tests/golden/make_golden.py /path/to/stylegan2-ada-pytorch [--commit SHA] [--out tests/golden]

The checkout is imported from the given path (never copied into this repository). Its custom CUDA ops
fall back to their reference PyTorch implementations on CPU, so no compiler or GPU is needed. The commit
is read with ``git rev-parse HEAD`` (or given with --commit for an exported tree) and recorded in
golden.json with the torch version, the file sizes and sha256s and the case settings of cases.py.

What is written (all tensors float32; names in the files are listed in tests/golden/README.md):
  uncond16.safetensors, cond32_clamp.safetensors  official weights (G.*, D.*), inputs, G images (const and
      no noise, fused and unfused modconv, truncated), W+, w_avg after one training-mode mapping call,
      D logits, and gradients of fixed projections of G's image and D's logits (train mode).
  loss16.safetensors  weights, inputs, the recorded path-length noise and the gradients of the official
      StyleGAN2Loss phases Gmain, Greg, Dmain, Dreg; the path-length mean after one pl_decay=0.01 update.
  snapshot16.pkl (+ snapshot16.safetensors: its inputs and outputs)  a network snapshot pickled exactly
      as the official training loop pickles one, except that each persistent class's module source is
      replaced by cases.MODULE_SRC_PLACEHOLDER: the real text is the official code, which is not ours to
      commit. Our importer never reads the source (it only hashes it), so nothing it tests is lost.
"""
from __future__ import annotations

import argparse
import copy
import pickle
import platform
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: stylealign_core
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the golden package
from golden.cases import (GOLDEN_DIR, LOSS_CASE, LOSS_PHASES, MODULE_SRC_PLACEHOLDER,  # noqa: E402
                          NETWORK_CASES, OFFICIAL_REPO, REGENERATE, SNAPSHOT_CASE, case_configs,
                          feeding_randn_like, file_sha256)
from stylealign_core.atomic import write_atomic, write_bytes_atomic, write_json_atomic  # noqa: E402


def import_official(path: Path):
    """The official modules (dnnlib, torch_utils.persistence, training.loss)."""
    if not (path / "training" / "networks.py").is_file():
        raise SystemExit(f"{path}: not a stylegan2-ada-pytorch checkout (no training/networks.py); "
                         f"clone {OFFICIAL_REPO} and pass its path")
    sys.path.insert(0, str(path))
    import dnnlib
    from torch_utils import persistence
    from training import augment, loss, networks  # noqa: F401 (registers the persistent classes)
    return dnnlib, persistence, loss


def pickle_without_sources(persistence, obj) -> bytes:
    """pickle.dumps(obj) with the placeholder as every persistent class's module source. Only while
    pickling: copy.deepcopy goes through the same reduce and needs the real source to rebuild."""
    real = {cls: cls._orig_module_src for cls in persistence._decorators}
    try:
        for cls in real:
            cls._orig_module_src = MODULE_SRC_PLACEHOLDER
        return pickle.dumps(obj)
    finally:
        for cls, src in real.items():
            cls._orig_module_src = src


def official_commit(path: Path, given: str | None) -> str:
    if given:
        return given
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(f"{path} is not a git checkout: pass its commit with --commit SHA") from None


def official_kwargs(G: dict, D: dict, num_fp16_res: int = 0):
    """Our Generator/Discriminator configs -> the official constructors' keyword arguments, nested the way
    the official train.py nests them (dnnlib.EasyDict), so the pickled _init_kwargs look like a real run's."""
    import dnnlib
    g, d = dict(G), dict(D)
    synthesis = dnnlib.EasyDict(channel_base=g.pop("channel_base"), channel_max=g.pop("channel_max"),
                                num_fp16_res=num_fp16_res, conv_clamp=g.pop("conv_clamp", None))
    if "use_noise" in g:
        synthesis.use_noise = g.pop("use_noise")
    mapping = dnnlib.EasyDict(num_layers=g.pop("mapping_layers"))
    g_kwargs = dnnlib.EasyDict(class_name="training.networks.Generator", **g, mapping_kwargs=mapping,
                               synthesis_kwargs=synthesis)
    epilogue = dnnlib.EasyDict(mbstd_group_size=d.pop("mbstd_group_size", 4))
    if "mbstd_num_channels" in d:
        epilogue.mbstd_num_channels = d.pop("mbstd_num_channels")
    d_kwargs = dnnlib.EasyDict(class_name="training.networks.Discriminator", block_kwargs=dnnlib.EasyDict(),
                               mapping_kwargs=dnnlib.EasyDict(num_layers=d.pop("mapping_layers", 8)),
                               epilogue_kwargs=epilogue, num_fp16_res=num_fp16_res, **d)
    return g_kwargs, d_kwargs


def build_official(G: dict, D: dict, seed: int, num_fp16_res: int = 0):
    """Official G and D from our configs, their weights moved off the default init (zero biases, zero noise
    strengths and w_avg would hide mistakes) by a seeded perturbation."""
    import dnnlib
    g_kwargs, d_kwargs = official_kwargs(G, D, num_fp16_res)
    torch.manual_seed(seed)
    nets = [dnnlib.util.construct_class_by_name(**kw) for kw in (g_kwargs, d_kwargs)]
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for net in nets:
            for name, t in net.state_dict().items():
                if not name.endswith("resample_filter"):
                    t.add_(0.3 * torch.randn(t.shape, generator=gen))
    return nets[0], nets[1]


def state_entries(prefix: str, net: torch.nn.Module) -> dict:
    return {f"{prefix}.{k}": v.detach().float().clone() for k, v in net.state_dict().items()}


def grad_entries(prefix: str, net: torch.nn.Module) -> dict:
    """Gradient of every parameter (zeros where none flowed), keyed as in the state dict."""
    return {f"{prefix}.{k}": (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
            for k, p in net.named_parameters()}


def network_case(name: str, seed: int) -> dict:
    case = NETWORK_CASES[name]
    G, D = build_official(case["G"], case["D"], seed)
    gen = torch.Generator().manual_seed(seed + 2)
    B, R, c_dim = case["batch"], case["G"]["img_resolution"], case["G"]["c_dim"]
    z = torch.randn([B, case["G"]["z_dim"]], generator=gen)
    c = torch.randn([B, c_dim], generator=gen)
    x = torch.randn([B, 3, R, R], generator=gen)
    img_weight, logit_weight = torch.randn([B, 3, R, R], generator=gen), torch.randn([B, 1], generator=gen)
    out = {**state_entries("G", G), **state_entries("D", D), "in.z": z, "in.c": c, "in.x": x,
           "in.img_weight": img_weight, "in.logit_weight": logit_weight}
    G.eval().requires_grad_(False)
    D.eval().requires_grad_(False)
    psi, cutoff = case["truncation_psi"], case["truncation_cutoff"]
    with torch.no_grad():
        out["out.ws_truncated"] = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
        out["out.img_const_fused"] = G(z, c, noise_mode="const", fused_modconv=True)
        if name == "uncond16":  # the two modconv paths and noise_mode="none" once, where images are small
            out["out.img_const_unfused"] = G(z, c, noise_mode="const", fused_modconv=False)
            out["out.img_none"] = G(z, c, noise_mode="none")
        out["out.img_truncated"] = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const")
        out["out.logits"] = D(x, c)
        mapping = copy.deepcopy(G.mapping).train()
        mapping(z, c)  # one training-mode call moves w_avg towards this batch's mean w
        out["out.w_avg_updated"] = mapping.w_avg.clone()
    G.train().requires_grad_(True)
    D.train().requires_grad_(True)
    (G(z, c, noise_mode="const") * img_weight).sum().backward()
    x_in = x.clone().requires_grad_(True)
    (D(x_in, c) * logit_weight).sum().backward()
    out.update(grad_entries("grad.G", G))
    out.update(grad_entries("grad.D", D))
    out["grad.D.input"] = x_in.grad.clone()
    return out


def loss_phase(loss_module, case: dict, nets, inputs: dict, phase: str, pl_decay: float):
    """Run one official phase on fresh copies of the networks; returns (trained copy, official loss)."""
    G, D = copy.deepcopy(nets[0]).train(), copy.deepcopy(nets[1]).train()
    for net in (G, D):
        net.requires_grad_(False)
    trained = G if phase.startswith("G") else D
    trained.requires_grad_(True)
    theirs = loss_module.StyleGAN2Loss(device=torch.device("cpu"), G_mapping=G.mapping, G_synthesis=G.synthesis,
                                       D=D, style_mixing_prob=0, r1_gamma=case["r1_gamma"],
                                       pl_weight=case["pl_weight"], pl_batch_shrink=case["pl_batch_shrink"],
                                       pl_decay=pl_decay)
    theirs.pl_mean.fill_(case["pl_mean"])
    with feeding_randn_like(inputs["in.pl_noise"]) as calls:
        theirs.accumulate_gradients(phase=phase, real_img=inputs["in.real_img"], real_c=inputs["in.real_c"],
                                    gen_z=inputs["in.gen_z"], gen_c=inputs["in.gen_c"], sync=True,
                                    gain=case["gain"])
    assert len(calls) == (phase == "Greg"), f"{phase}: the official loss drew {len(calls)} noise tensors"
    return trained, theirs


def loss_case(loss_module, seed: int) -> dict:
    case = LOSS_CASE
    nets = build_official(case["G"], case["D"], seed)
    gen = torch.Generator().manual_seed(seed + 2)
    B, R, c_dim = case["batch"], case["G"]["img_resolution"], case["G"]["c_dim"]
    inputs = {"in.real_img": torch.rand([B, 3, R, R], generator=gen) * 2 - 1,
              "in.real_c": torch.randn([B, c_dim], generator=gen),
              "in.gen_z": torch.randn([B, case["G"]["z_dim"]], generator=gen),
              "in.gen_c": torch.randn([B, c_dim], generator=gen),
              "in.pl_noise": torch.randn([B // case["pl_batch_shrink"], 3, R, R], generator=gen)}
    out = {**state_entries("G", nets[0]), **state_entries("D", nets[1]), **inputs}
    for phase in LOSS_PHASES:
        trained, _ = loss_phase(loss_module, case, nets, inputs, phase, pl_decay=0.0)
        out.update(grad_entries(f"grad.{phase}", trained))
    _, theirs = loss_phase(loss_module, case, nets, inputs, "Greg", pl_decay=case["pl_decay"])
    out["out.pl_mean_updated"] = theirs.pl_mean.detach().clone().reshape([1])
    return out


def snapshot_case(dnnlib, persistence, seed: int) -> tuple[bytes, dict]:
    """A snapshot pickle as training_loop.py writes it, and the official outputs of its networks."""
    case = SNAPSHOT_CASE
    G, D = build_official(case["G"], case["D"], seed, num_fp16_res=case["num_fp16_res"])
    G_ema = copy.deepcopy(G)
    gen = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for p in G_ema.parameters():  # an EMA that has drifted a little from G
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    pipe = dnnlib.util.construct_class_by_name(class_name="training.augment.AugmentPipe", **case["augment_kwargs"])
    pipe.p.copy_(torch.as_tensor(case["augment_p"]))
    snapshot = dict(training_set_kwargs=dict(case["training_set_kwargs"]))
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", pipe)]:
        snapshot[name] = copy.deepcopy(module).eval().requires_grad_(False).cpu()
    B, R = case["batch"], case["G"]["img_resolution"]
    z, c = torch.randn([B, case["G"]["z_dim"]], generator=gen), torch.randn([B, case["G"]["c_dim"]], generator=gen)
    x = torch.randn([B, 3, R, R], generator=gen)
    psi = case["truncation_psi"]
    with torch.no_grad():
        out = {"in.z": z, "in.c": c, "in.x": x,
               "out.G_ema.img": snapshot["G_ema"](z, c, truncation_psi=psi, noise_mode="const", force_fp32=True),
               "out.G.img": snapshot["G"](z, c, truncation_psi=psi, noise_mode="const", force_fp32=True),
               "out.D.logits": snapshot["D"](x, c, force_fp32=True)}
    return pickle_without_sources(persistence, snapshot), out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="path of a stylegan2-ada-pytorch checkout")
    parser.add_argument("--commit", help="its commit, when the path is not a git checkout")
    parser.add_argument("--out", type=Path, default=GOLDEN_DIR, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    reference = args.reference.resolve()
    commit = official_commit(reference, args.commit)
    dnnlib, persistence, loss_module = import_official(reference)
    torch.set_num_threads(1)  # one reduction order, whatever the machine
    tensors = {name: network_case(name, seed) for seed, name in zip((100, 200), NETWORK_CASES)}
    tensors["loss16"] = loss_case(loss_module, seed=300)
    pkl_bytes, tensors["snapshot16"] = snapshot_case(dnnlib, persistence, seed=400)
    files = {}
    for name, entries in tensors.items():
        target = args.out / f"{name}.safetensors"
        contiguous = {k: v.detach().float().contiguous() for k, v in entries.items()}
        write_atomic(target, lambda tmp, t=contiguous: save_file(t, str(tmp)))
        files[target.name] = target
    files["snapshot16.pkl"] = write_bytes_atomic(args.out / "snapshot16.pkl", pkl_bytes)
    write_json_atomic(args.out / "golden.json", {
        "official": {"repository": OFFICIAL_REPO, "commit": commit},
        "made_with": {"torch": torch.__version__, "python": platform.python_version(), "device": "cpu",
                      "threads": 1},
        "regenerate": REGENERATE,
        "cases": case_configs(),
        "files": {name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)} for name, p in sorted(files.items())},
    })
    total = sum(p.stat().st_size for p in files.values())
    print(f"wrote {len(files)} golden files ({total / 1e6:.2f} MB) from {OFFICIAL_REPO} @ {commit}")


if __name__ == "__main__":
    main()
