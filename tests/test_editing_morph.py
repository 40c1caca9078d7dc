"""Morphing (latent + synthesis weights, parent -> child) and its GIF / MP4 / strip outputs."""
import pytest
import torch
from PIL import Image

from editing_helpers import tiny_pair
from stylealign_core.editing import layer_swap, morph_frames, parse_windows, resolution_windows
from stylealign_core.editing.errors import EditError
from stylealign_core.editing.frames import find_ffmpeg, mp4_unavailable_reason, save_gif, save_mp4, save_strip
from stylealign_core.editing.morph import window_weight
from stylealign_core.latents import z_from_seeds


@pytest.fixture
def pair_and_codes(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    z = z_from_seeds([1, 2], parent.z_dim)
    return parent, child, parent.z_to_w(z[:1])[0], child.z_to_w(z[1:])[0]


@pytest.mark.parametrize("latent_schedule, weight_schedule", [("linear", "linear"), ("cosine", "smoothstep")])
def test_morph_starts_at_the_parent_image_and_ends_at_the_child_image(pair_and_codes, latent_schedule,
                                                                      weight_schedule):
    parent, child, w_a, w_b = pair_and_codes
    frames = morph_frames(parent, child, w_a, w_b, "w", 5, latent_schedule=latent_schedule,
                          weight_schedule=weight_schedule)
    first, last = parent.synthesize(w_a[None], space="w"), child.synthesize(w_b[None], space="w")
    assert frames.shape == (5, 3, 16, 16)
    assert torch.equal(frames[0], first[0]) and torch.equal(frames[-1], last[0])
    assert (frames[2] - first[0]).abs().max() > 1e-2 and (frames[2] - last[0]).abs().max() > 1e-2


def test_morph_leaves_both_models_unchanged(pair_and_codes):
    parent, child, w_a, w_b = pair_and_codes
    before = [{k: v.clone() for k, v in g.state_dict().items()} for g in (parent, child)]
    morph_frames(parent, child, w_a, w_b, "w", 4)
    for g, saved in zip((parent, child), before):
        assert all(torch.equal(v, saved[k]) for k, v in g.state_dict().items())


def test_z_endpoints_are_mapped_by_their_own_domain(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    z = z_from_seeds([5, 6], parent.z_dim)
    frames = morph_frames(parent, child, z[0], z[1], "z", 3, truncation_psi=0.7)
    assert torch.equal(frames[0], parent.synthesize(z[:1], space="z", truncation_psi=0.7)[0])
    assert torch.equal(frames[-1], child.synthesize(z[1:], space="z", truncation_psi=0.7)[0])
    both_parent = morph_frames(parent, child, z[0], z[1], "z", 3, truncation_psi=0.7, domains=("parent", "parent"))
    expected = child.synthesize(parent.z_to_w(z[1:], truncation_psi=0.7), space="w")[0]
    assert torch.equal(both_parent[-1], expected)


def test_weight_steps_per_resolution_make_layer_swapped_frames(pair_and_codes):
    parent, child, w_a, _ = pair_and_codes
    windows = resolution_windows([4, 8, 16], "coarse-to-fine", step=True)  # steps at 0.25, 0.5, 0.75
    frames = morph_frames(parent, child, w_a, w_a, "w", 5, windows=windows)  # t = 0, .25, .5, .75, 1
    hybrid = layer_swap(child, parent, 8, mapping_from="high").generator  # 4, 8 from the child, 16 from the parent
    assert torch.equal(frames[2], hybrid.synthesize(w_a[None], space="w")[0])
    assert torch.equal(frames[-1], child.synthesize(w_a[None], space="w")[0])


def test_windows_parse_and_shape_the_weights():
    windows = parse_windows("4:0-0.5, 16:0.5", [4, 8, 16])
    assert windows == {4: (0.0, 0.5), 8: (0.0, 1.0), 16: (0.5, 0.5)}
    assert window_weight(0.25, windows[4], lambda t: t) == pytest.approx(0.5)
    assert window_weight(0.49, windows[16], lambda t: t) == 0.0 and window_weight(0.5, windows[16], lambda t: t) == 1.0
    assert resolution_windows([4, 8], "fine-to-coarse") == {8: (0.0, 0.5), 4: (0.5, 1.0)}
    for bad in ("32:0-1", "8:0.7-0.2", "8"):
        with pytest.raises(EditError):
            parse_windows(bad, [4, 8, 16])


def test_gif_has_one_image_per_frame_and_strip_shows_the_chosen_frames(tmp_path):
    frames = torch.linspace(-1, 1, 7).view(7, 1, 1, 1).expand(7, 3, 8, 8).clone()
    gif = save_gif(frames, tmp_path / "m.gif", fps=10, scale=2)
    with Image.open(gif) as img:
        assert img.n_frames == 7 and img.size == (16, 16)
        img.seek(6)
        assert img.convert("RGB").getpixel((0, 0)) == (255, 255, 255)
    strip = save_strip(frames, tmp_path / "s.png", count=3, pad=2)
    with Image.open(strip) as img:
        assert img.size == (3 * 10 + 2, 12)
        assert [img.getpixel((2 + 10 * i, 2))[0] for i in range(3)] == [0, 128, 255]
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_mp4_is_written_where_ffmpeg_exists_and_skipped_with_a_reason_elsewhere(tmp_path):
    frames = torch.rand(4, 3, 8, 8) * 2 - 1
    written = save_mp4(frames, tmp_path / "m.mp4", fps=8, scale=3)
    if find_ffmpeg() is None:
        assert written is None and "imageio-ffmpeg" in mp4_unavailable_reason()
        assert not (tmp_path / "m.mp4").exists()
    else:
        assert mp4_unavailable_reason() is None
        assert written.read_bytes()[4:8] == b"ftyp"
