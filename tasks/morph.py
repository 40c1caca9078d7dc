"""Stage `morph`: a few morphs parent(a) -> child(b), a from the parent's latents, b from the child's.

A thin wrapper around :func:`stylealign_core.editing.jobs.run_morph_pairs` (what ``stylealign morph
--latents PARENT_TABLE --latents-b CHILD_TABLE --ids A,B`` writes, once per pair, plus ``pairs.json``).
"""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.editing import codes_from_table, load_aligned_pair
from stylealign_core.editing.jobs import pick_pairs, run_morph_pairs
from stylealign_core.editing.morph import morph_windows
from stylealign_core.editing.translate import default_truncation

from ._common import logger


@task(name="morph.morph_pairs", cache_policy=NO_CACHE)
def morph_pairs(parent: str, child: str, latents_a: str, latents_b: str, out: str, pairs: list, count: int,
                pairing: str, settings: dict, device: str = "cpu") -> list[dict]:
    """Morph every pair (``pairs``, else ``count`` pairs picked by ``pairing``) into ``out`` (replaced).

    ``settings``: frames, fps, scale, strip_frames, latent_schedule, weight_schedule, weight_order,
    weight_steps, windows, truncation_psi (the ``morph`` section)."""
    pair = load_aligned_pair(parent, child, device=device)
    codes_a = codes_from_table(latents_a, expect_sha256=pair.parent_sha256)
    codes_b = codes_from_table(latents_b, expect_sha256=pair.child_sha256)
    chosen = [tuple(p) for p in pairs] or pick_pairs(codes_a.ids, codes_b.ids, count, pairing)
    s = dict(settings)
    windows = morph_windows(list(pair.parent.synthesis.block_resolutions), s.pop("windows"), s.pop("weight_order"),
                            step=s.pop("weight_steps"))
    psi = default_truncation(codes_a.space, s.pop("truncation_psi"))
    entries = run_morph_pairs(pair, codes_a, codes_b, chosen, out, windows=windows, truncation_psi=psi,
                              domains=("parent", "child"), **s)
    logger().info("morphed %d pair(s) into %s: %s", len(entries), out,
                  ", ".join(f"{e['a']}->{e['b']}" for e in entries))
    return entries
