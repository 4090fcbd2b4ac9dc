"""parse_params and candidate_paths: reading a command line without knowing its parser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bathos.provenance.params import candidate_paths, param_value, parse_params


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # --name value, --name=value
        (["--lr", "0.1"], {"lr": "0.1"}),
        (["--lr=0.1"], {"lr": "0.1"}),
        (["--n-steps", "1000"], {"n_steps": "1000"}),
        (["--Batch-Size=32"], {"Batch_Size": "32"}),
        (["--name="], {"name": ""}),
        (["--model.lr", "3e-4"], {"model.lr": "3e-4"}),
        # one dash: a letter or a whole word is one name; a number attached to a letter
        (["-n", "5"], {"n": "5"}),
        (["-o=out.csv"], {"o": "out.csv"}),
        (["-N", "40", "-S", "0.04", "-seed", "7"], {"N": "40", "S": "0.04", "seed": "7"}),
        (["-rangeTo", "3"], {"rangeTo": "3"}),
        (["-n5", "-j4", "-s0.04"], {"n": "5", "j": "4", "s": "0.04"}),
        (["-vx"], {"vx": "true"}),
        # booleans: a name with no value is true, --no-name is false and never takes a value
        (["--verbose"], {"verbose": "true"}),
        (["--verbose", "--lr", "1"], {"verbose": "true", "lr": "1"}),
        (["-v", "-N", "40"], {"v": "true", "N": "40"}),
        (["--quiet", "-v"], {"quiet": "true", "v": "true"}),
        (["--no-cuda"], {"cuda": "false"}),
        (["--no-cuda", "data.csv"], {"cuda": "false"}),
        (["--no_cuda"], {"no_cuda": "true"}),
        (["--notes", "x"], {"notes": "x"}),
        # the ambiguity: an option takes the next argument when it can be a value
        (["-v", "data.csv"], {"v": "data.csv"}),
        (["train.py", "data.csv", "--epochs", "3", "out/"], {"epochs": "3"}),
        # negative numbers and `-` are values, not options
        (["--lr", "-0.1"], {"lr": "-0.1"}),
        (["-shift", "-3"], {"shift": "-3"}),
        (["--eps", "-1e-3"], {"eps": "-1e-3"}),
        (["--low", "-inf"], {"low": "-inf"}),
        (["--input", "-"], {"input": "-"}),
        (["-1", "-0.5"], {}),
        # key=value overrides (Hydra): set, append, force, delete; never an option's value
        (["lr=0.1", "model.depth=3"], {"lr": "0.1", "model.depth": "3"}),
        (["+trainer.gpus=2", "++seed=1", "n-layers=4"],
         {"trainer.gpus": "2", "seed": "1", "n_layers": "4"}),
        (["model.dropout=0.1", "~model.dropout", "~other=3"], {}),
        (["-m", "lr=0.1,0.01", "layers=[64,64]"], {"m": "true", "lr": "0.1,0.01",
                                                  "layers": "[64,64]"}),
        (["--tag", "a=b"], {"tag": "true", "a": "b"}),
        (["url=https://x.org/?a=b"], {"url": "https://x.org/?a=b"}),
        (["--out", "~/runs/x"], {"out": "~/runs/x"}),
        # a name given more than once: the list of its values, in order
        (["--lr", "1", "--lr", "2"], {"lr": ["1", "2"]}),
        (["--tag", "a", "-tag", "b", "tag=c"], {"tag": ["a", "b", "c"]}),
        (["-v", "-v"], {"v": ["true", "true"]}),
        # what is not a parameter
        (["-k", "v", "-x", "pos"], {"k": "v", "x": "pos"}),
        (["--a", "1", "--", "--b", "2", "c=3"], {"a": "1"}),
        (["---", "--=x", "-=y", "=z", "--", "--late"], {}),
        (["data.csv", "+x", "a/b=c"], {}),
        ([], {}),
    ],
)
def test_parse_params(argv: list[str], expected: dict[str, str | list[str]]) -> None:
    assert parse_params(argv) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("0.020", 0.02), ("2e-2", 0.02), ("-7", -7), ("+5", 5), ("007", 7), (".5", 0.5),
    ("5.", 5.0), ("-inf", float("-inf")), ("12345678901234567890", 12345678901234567890),
    ("true", True), ("False", False), ("TRUE", True),
    ("1_000", "1_000"), (" 1", " 1"), ("0x10", "0x10"), ("1e", "1e"), ("yes", "yes"), ("", ""),
])
def test_param_value_reads_the_type_from_the_text(text: str, expected: object) -> None:
    value = param_value(text)
    assert value == expected and type(value) is type(expected)


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
        "+init=weights/init.pt",
        "-o=figures/a.png",
        "~data.csv",
        "-n5",
        "-inf",
    ]

    found = candidate_paths(argv, tmp_path)

    assert found == [
        tmp_path / "data/in.csv",
        tmp_path / "results/x.parquet",
        tmp_path / "model.pt",
        tmp_path / "config",
        tmp_path / "ckpt/last.ckpt",
        Path("/abs/elsewhere/y.npz"),
        tmp_path / "weights/init.pt",
        tmp_path / "figures/a.png",
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
