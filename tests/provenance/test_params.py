"""parse_params and candidate_paths: reading a command line without knowing its parser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bathos.provenance.params import candidate_paths, parse_params


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--lr", "0.1"], {"lr": "0.1"}),
        (["--lr=0.1"], {"lr": "0.1"}),
        (["--n-steps", "1000"], {"n_steps": "1000"}),
        (["--Batch-Size=32"], {"Batch_Size": "32"}),
        (["--verbose"], {"verbose": "true"}),
        (["--verbose", "--lr", "1"], {"verbose": "true", "lr": "1"}),
        (["--no-cuda"], {"cuda": "false"}),
        (["--no-cuda", "data.csv"], {"cuda": "false"}),
        (["--lr", "-0.1"], {"lr": "-0.1"}),
        (["--shift", "-3"], {"shift": "-3"}),
        (["--eps", "-1e-3"], {"eps": "-1e-3"}),
        (["--input", "-"], {"input": "-"}),
        (["--quiet", "-v"], {"quiet": "true"}),
        (["--name="], {"name": ""}),
        (["--tag", "a=b"], {"tag": "a=b"}),
        (["--lr", "1", "--lr", "2"], {"lr": "2"}),
        (["-k", "v", "-x", "pos"], {}),
        (["train.py", "data.csv", "--epochs", "3", "out/"], {"epochs": "3"}),
        (["--a", "1", "--", "--b", "2"], {"a": "1"}),
        (["---", "--=x", "--", "--late"], {}),
        (["--model.lr", "3e-4"], {"model.lr": "3e-4"}),
        ([], {}),
    ],
)
def test_parse_params(argv: list[str], expected: dict[str, str]) -> None:
    assert parse_params(argv) == expected


def test_candidate_paths(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("x")  # no extension, but it exists
    argv = [
        "data/in.csv",
        "--out=results/x.parquet",
        "--model",
        "model.pt",
        "config",
        "0.1",
        "--lr",
        "-0.1",
        "https://example.org/data.csv",
        "s3://bucket/key.parquet",
        "--verbose",
        "-o",
        ".",
        "..",
        "checkpoint=ckpt/last.ckpt",
        "./data/in.csv",  # the same file as the first argument
        "/abs/elsewhere/y.npz",
        "plain",
        "--name=run1",
    ]

    found = candidate_paths(argv, tmp_path)

    assert found == [
        tmp_path / "data/in.csv",
        tmp_path / "results/x.parquet",
        tmp_path / "model.pt",
        tmp_path / "config",
        tmp_path / "ckpt/last.ckpt",
        Path("/abs/elsewhere/y.npz"),
    ]


def test_candidate_paths_keeps_symlinks_as_named(tmp_path: Path) -> None:
    (tmp_path / "v3.csv").write_text("a,b\n")
    os.symlink(tmp_path / "v3.csv", tmp_path / "latest")
    assert candidate_paths(["latest", "sub/../v3.csv"], tmp_path) == [
        tmp_path / "latest",
        tmp_path / "v3.csv",
    ]


def test_an_existing_key_value_file_stays_whole(tmp_path: Path) -> None:
    (tmp_path / "a=b").write_text("odd but real")
    assert candidate_paths(["a=b"], tmp_path) == [tmp_path / "a=b"]
