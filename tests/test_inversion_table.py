"""The latents table: the reader API other stages use, atomic writes, deterministic merge."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from stylealign_core.inversion import InversionError, LatentsTable, concat_tables, read_latents, write_latents


def _table(space="w+", n=3, start=0):
    shape = {"z": (8,), "w": (8,), "w+": (4, 8), "s": (20,)}[space]
    latents = torch.arange(n * int(torch.tensor(shape).prod()), dtype=torch.float32).reshape(n, *shape) + start
    return LatentsTable(ids=[f"img{start + i}" for i in range(n)], space=space, latents=latents,
                        generator_sha256="ab" * 32, metric="stlpips-vgg",
                        columns={"index": [start + i for i in range(n)], "distance": [0.5] * n})


@pytest.mark.parametrize("space", ["z", "w", "w+", "s"])
def test_round_trip_keeps_shape_and_fields(tmp_path, space):
    table = _table(space)
    path = write_latents(tmp_path / "t.parquet", table, extra={"label": ["a", "b", "c"]})
    back = read_latents(path)
    assert back.ids == table.ids and back.space == space
    assert back.generator_sha256 == table.generator_sha256 and back.metric == "stlpips-vgg"
    torch.testing.assert_close(back.latents, table.latents)
    assert back.latents.dtype == torch.float32
    assert back.columns["label"] == ["a", "b", "c"] and back.columns["distance"] == [0.5] * 3
    arrow = pq.read_table(path)
    assert pa.types.is_fixed_size_list(arrow.schema.field("latent").type)
    assert arrow.schema.field("latent").type.value_type == pa.float32()
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temporary file left


def test_bad_tables_are_refused(tmp_path):
    with pytest.raises(InversionError, match="not found"):
        read_latents(tmp_path / "missing.parquet")
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "other.parquet")
    with pytest.raises(InversionError, match="not a latents table"):
        read_latents(tmp_path / "other.parquet")
    with pytest.raises(InversionError, match="ids"):
        LatentsTable(ids=["a"], space="w", latents=torch.zeros(2, 3), generator_sha256="", metric="")
    with pytest.raises(InversionError, match="unique"):
        LatentsTable(ids=["a", "a"], space="w", latents=torch.zeros(2, 3), generator_sha256="", metric="")
    with pytest.raises(InversionError, match="core column"):
        write_latents(tmp_path / "x.parquet", _table(), extra={"latent": [1, 2, 3]})


def test_concat_is_deterministic_and_checks_compatibility():
    a, b = _table(n=2, start=0), _table(n=3, start=2)
    ab, ba = concat_tables([a, b]), concat_tables([b, a])
    assert ab.ids == ba.ids == [f"img{i}" for i in range(5)]
    torch.testing.assert_close(ab.latents, ba.latents)
    other = _table(n=1, start=9)
    other.generator_sha256 = "cd" * 32
    with pytest.raises(InversionError, match="generator_sha256"):
        concat_tables([a, other])
