"""`stylealign data ...` through stylealign.cli.main (exit codes, one-line errors)."""
import pytest

from stylealign.cli import main as _run
from test_data_helpers import write_mixed_folder


def test_folder_command_and_info(tmp_path, capsys):
    write_mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    assert _run(["data", "folder", str(tmp_path / "in"), "--resolution", "8", "--out", str(out),
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}: 7 images 8x8" in text and "4 inputs skipped" in text
    assert _run(["data", "info", str(out), "--verify"]) == 0
    assert "verified: all 7 images" in capsys.readouterr().out


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    write_mixed_folder(tmp_path / "in")
    rc = _run(["data", "folder", str(tmp_path / "in"), "--resolution", "8", "--out",
               str(tmp_path / "o"), "--strict", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith("stylealign: error: bad/crc.png: corrupt") and "fix:" in err
    assert _run(["data", "info", str(tmp_path / "in")]) == 2
    assert "not a stylealign data set" in capsys.readouterr().err


def test_help_lists_styles_and_subcommands(capsys):
    with pytest.raises(SystemExit):
        _run(["data", "emoji", "--help"])
    out = capsys.readouterr().out
    assert "google" in out and "twitter" in out and "--resolution {64,32,16}" in out
    with pytest.raises(SystemExit):
        _run(["data", "emoji", "--style", "apple", "--out", "x"])
    assert _run(["data"]) == 2


def test_folder_licence_and_attribution_flags(tmp_path, capsys):
    write_mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    assert _run(["data", "folder", str(tmp_path / "in"), "--resolution", "8", "--out", str(out), "--quiet",
                 "--license", "Apache-2.0", "--attribution", "Images by the test suite"]) == 0
    assert "Apache License" in (out / "LICENSE").read_text()
    assert (out / "ATTRIBUTION.txt").read_text() == "Images by the test suite\n"
    rc = _run(["data", "folder", str(tmp_path / "in"), "--resolution", "8", "--out", str(tmp_path / "o2"),
               "--quiet", "--license", "./missing/LICENSE"])
    err = capsys.readouterr().err
    assert rc == 2 and "neither an existing file nor a licence identifier" in err and err.count("\n") == 1
