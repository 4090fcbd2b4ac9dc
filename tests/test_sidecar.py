"""Sidecars read from real files: each validation error names file, line and key exactly; and
outcomes judged for each kind, the residual, a failed run and results that cannot be judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bathos import RunOutcome, SidecarInvalid, evaluate_outcome, load_sidecar, sidecar_path

EXPERIMENT = """\
[experiment]
hypothesis = "a wider net reaches a lower loss"
stage = "exploration"

[result_schema]
loss = "float"
epochs = "int"

[outcomes.better]
condition = "loss < 0.1"
decision = "keep the wide net"

[outcomes.worse]
condition = "loss > 0.5 AND epochs >= 10"
decision = "drop it"
reasoning = "it had time to converge"

[outcomes.unclear]
is_residual = true
decision = "train longer"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = sidecar_path(tmp_path / "train_net.py")
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SidecarInvalid) as caught:
        load_sidecar(path)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: ")
    return str(caught.value).removeprefix(f"{path}:")


def test_a_valid_sidecar_is_read_with_its_outcomes_in_file_order(tmp_path: Path) -> None:
    spec = load_sidecar(write(tmp_path, 'agent_mode = "autonomous"\ninputs = ["data/a.csv"]\n'
                              + EXPERIMENT + "\n[status]\nstale = true\n"))

    assert sidecar_path(Path("scripts/x/train_net.py")) == Path("scripts/x/train_net.bth.toml")
    assert (spec.kind, spec.fields["stage"], spec.agent_mode) == ("experiment", "exploration",
                                                                  "autonomous")
    assert [(o.label, o.is_residual) for o in spec.outcomes] == [
        ("better", False), ("worse", False), ("unclear", True)]
    assert spec.outcomes[1].reasoning == "it had time to converge"
    assert (spec.inputs, spec.stale, spec.superseded_by) == (("data/a.csv",), True, None)
    assert spec.result_schema == {"loss": "float", "epochs": "int"}


@pytest.mark.parametrize(("text", "expected"), [
    ("[experiment\n", "1: is not valid TOML: Expected ']' at the end of a table declaration "
                      "(column 12)"),
    ('x = "unclosed\n', "1: is not valid TOML: Illegal character '\\n' (column 14)"),
    (EXPERIMENT.replace("[experiment]", "[experimnt]"),
     "1: experimnt: unknown key (a sidecar has one of [experiment], [benchmark], [validation], "
     "[debug], [outcomes.<label>] tables, and optionally [result_schema], inputs, outputs, "
     "[status], agent_mode)"),
    (EXPERIMENT.split("[result_schema]")[1].replace('loss = "float"', "[result_schema]\nl='float'"),
     "1: has no kind table: add one of [experiment], [benchmark], [validation], [debug]"),
    (EXPERIMENT + '\n[debug]\nsymptom = "slow"\n',
     "22: debug: a sidecar has one kind table, and [experiment] is at line 1"),
    (EXPERIMENT.replace('hypothesis = "a wider net reaches a lower loss"\n', ""),
     "1: experiment.hypothesis: missing (what the run is expected to show)"),
    (EXPERIMENT.replace('stage = "exploration"', 'stage = "explore"'),
     "3: experiment.stage: unknown stage 'explore' (one of exploration, calibration, "
     "validation, ablation, production)"),
    (EXPERIMENT.replace("stage =", "colour = 3\nstage ="),
     "3: experiment.colour: unknown key ([experiment] has: hypothesis, stage)"),
    (EXPERIMENT.replace('"a wider net reaches a lower loss"', "42"),
     "2: experiment.hypothesis: must be a string, not an integer"),
    (EXPERIMENT.replace('loss = "float"', 'loss = "double"'),
     "6: result_schema.loss: unknown type 'double' (one of float, int, bool, str)"),
    (EXPERIMENT.replace('decision = "drop it"\n', ""),
     "13: outcomes.worse.decision: missing (what to do when this is the outcome)"),
    (EXPERIMENT.replace('condition = "loss < 0.1"\n', ""),
     "9: outcomes.better.condition: missing (only the residual outcome may omit it)"),
    (EXPERIMENT.replace("is_residual = true", 'is_residual = "yes"'),
     "19: outcomes.unclear.is_residual: must be true or false, not a string"),
    (EXPERIMENT.replace("is_residual = true", 'condition = "loss >= 0.1"'),
     "9: outcomes: no residual outcome: mark the none-of-the-above case with is_residual = true"),
    (EXPERIMENT.replace("[outcomes.worse]", "[outcomes.error]"),
     "13: outcomes.error: 'error' is the label bathos gives a run that failed; choose another"),
    (EXPERIMENT.replace("loss < 0.1", "loss <"),
     "10: outcomes.better.condition: does not parse as SQL: it ends too early"),
    (EXPERIMENT.replace("loss < 0.1", "loss < < 0.1"),
     "10: outcomes.better.condition: does not parse as SQL: syntax error at or near \"<\" "
     "(at character 8: '< 0.1')"),
    (EXPERIMENT.replace("epochs >= 10", "epoch >= 10"),
     "14: outcomes.worse.condition: names 'epoch', which is not in [result_schema] "
     "(loss, epochs)"),
    (EXPERIMENT.replace("loss < 0.1", "loss * 2"),
     "10: outcomes.better.condition: must be true or false, not DOUBLE"),
    (EXPERIMENT.replace("loss < 0.1", "loss < 0.1) FROM t; SELECT (1"),
     "10: outcomes.better.condition: is not a single SQL expression"),
    (EXPERIMENT.replace("loss < 0.1", "loss < (SELECT count(*) FROM read_csv('/etc/passwd'))"),
     "10: outcomes.better.condition: must not contain a subquery (a condition reads only the "
     "run's results)"),
    ('agent_mode = "bold"\n' + EXPERIMENT,
     "1: agent_mode: unknown agent mode 'bold' (one of collaborative, autonomous)"),
    ("inputs = 3\n" + EXPERIMENT, "1: inputs: must be a list of paths (strings)"),
    (EXPERIMENT + "\n[status]\nstale = 1\n", "23: status.stale: must be true or false, not an "
                                            "integer"),
], ids=["toml", "toml-string", "unknown-kind", "no-kind", "two-kinds", "missing-field",
        "unknown-stage", "extra-field", "wrong-type", "unknown-type", "missing-decision",
        "missing-condition", "residual-type", "no-residual", "reserved-label", "sql-short",
        "sql-syntax", "unknown-column", "not-boolean", "two-statements", "subquery",
        "agent-mode", "inputs", "status"])
def test_each_mistake_is_named_by_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text) == expected


def test_lines_are_found_for_dotted_keys_inline_tables_and_multiline_values(
        tmp_path: Path) -> None:
    multiline = EXPERIMENT.replace('condition = "loss < 0.1"', 'reasoning = """\ncondition = 1'
                                   '\n"""\ncondition = """\nloss\n<"""')
    assert error(tmp_path, multiline) == (
        "13: outcomes.better.condition: does not parse as SQL: it ends too early")
    inline = EXPERIMENT + '\n[outcomes.later]\nmore = { x = 1 }\n'
    assert error(tmp_path, inline) == (
        "23: outcomes.later.more: unknown key ([outcomes.later] has: condition, decision, "
        "reasoning, is_residual)")
    dotted = ('outcomes.rest.is_residual = true\noutcomes.rest.decision = "y"\n'
              'outcomes.fast.condition = "speedup >"\noutcomes.fast.decision = "x"\n'
              '[benchmark]\nmetric = "speedup"\n')
    assert error(tmp_path, dotted) == (
        "3: outcomes.fast.condition: does not parse as SQL: it ends too early")


def test_a_file_that_is_not_text_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.write_bytes(b"[debug]\nsymptom = 'ok'\nsuspected_cause = '\xff'\n")
    with pytest.raises(SidecarInvalid) as caught:
        load_sidecar(path)
    assert (caught.value.line, caught.value.key) == (3, None)
    assert str(caught.value) == f"{path}:3: is not UTF-8 text"


KINDS = {
    "experiment": ('hypothesis = "h"\nstage = "ablation"', "loss < 0.1", {"loss": 0.05}),
    "benchmark": ('metric = "speedup"\nbaseline_ref = "main"\nregression_threshold = 0.05\n'
                  "target = 1.5", "speedup >= 1.2 AND max_error < 1e-6",
                  {"speedup": 1.4, "max_error": 2e-7, "note": "fast"}),
    "validation": ('property = "energy is conserved"\nreference = "analytic"\ntolerance = 1e-9',
                   "abs(drift) <= 1e-9", {"drift": -1e-10}),
    "debug": ('symptom = "NaN at step 40"\nsuspected_cause = "lr too high"',
              "nan_step IS NULL OR nan_step > 1000", {"nan_step": None}),
}


def sidecar(kind: str, fields: str, condition: str, schema: str = "") -> str:
    return (f"[{kind}]\n{fields}\n{schema}\n[outcomes.held]\ncondition = {condition!r}\n"
            "decision = \"go on\"\n\n[outcomes.rest]\nis_residual = true\ndecision = \"rethink\"\n")


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_judges_its_results(tmp_path: Path, kind: str) -> None:
    fields, condition, results = KINDS[kind]
    spec = load_sidecar(write(tmp_path, sidecar(kind, fields, condition)))

    outcome = evaluate_outcome(spec, results, exit_code=0)

    named = {k: v for k, v in results.items() if k in condition}
    assert outcome == RunOutcome("held", condition, "go on", named)


def test_the_first_condition_that_holds_wins_else_the_residual(tmp_path: Path) -> None:
    spec = load_sidecar(write(tmp_path, EXPERIMENT))

    worse = evaluate_outcome(spec, {"loss": 0.6, "epochs": 12}, exit_code=0)
    unclear = evaluate_outcome(spec, {"loss": 0.3, "epochs": 12}, exit_code=0)

    assert (worse.label, worse.decision) == ("worse", "drop it")
    assert worse.values == {"loss": 0.6, "epochs": 12}
    assert unclear == RunOutcome("unclear", None, "train longer", {"loss": 0.3, "epochs": 12},
                                 "no condition held")


def test_a_failed_run_is_an_error_whatever_its_results(tmp_path: Path) -> None:
    spec = load_sidecar(write(tmp_path, EXPERIMENT))

    assert evaluate_outcome(spec, {"loss": 0.01}, exit_code=3) == RunOutcome(
        "error", reason="exited with code 3")
    assert evaluate_outcome(spec, {}, exit_code=None).reason == "killed by a signal"


def test_results_that_cannot_be_judged_are_unknown_with_the_reason(tmp_path: Path) -> None:
    spec = load_sidecar(write(tmp_path, EXPERIMENT))
    undeclared = load_sidecar(write(tmp_path, sidecar("debug", 'symptom = "s"', "a / b > 1")))

    missing = evaluate_outcome(spec, {"epochs": 3}, exit_code=0)
    by_zero = evaluate_outcome(undeclared, {"a": 1.0, "b": 0}, exit_code=0)
    no_column = evaluate_outcome(undeclared, {"a": 1.0}, exit_code=0)
    wrong_type = evaluate_outcome(spec, {"loss": "low"}, exit_code=0)

    assert missing == RunOutcome("unknown", "loss < 0.1", None, {},
                                 "outcome better: the results have no loss")
    assert by_zero == RunOutcome("unknown", "a / b > 1", None, {"a": 1.0, "b": 0},
                                 "outcome held: the condition failed: Division by zero in "
                                 "expression (a / CAST(b AS DOUBLE))")
    assert no_column.reason == "outcome held: the results have no b"
    assert wrong_type.label == "unknown"
    assert wrong_type.reason == ("a result does not have its declared type: Could not convert "
                                 "string 'low' to DOUBLE")


def test_a_condition_before_one_that_cannot_be_judged_still_wins(tmp_path: Path) -> None:
    spec = load_sidecar(write(tmp_path, EXPERIMENT))

    assert evaluate_outcome(spec, {"loss": 0.05}, exit_code=0).label == "better"


def test_the_example_in_the_docs_is_a_valid_sidecar(tmp_path: Path) -> None:
    page = (Path(__file__).parent.parent / "docs" / "sidecars.md").read_text()
    example = page.split("```toml\n")[1].split("```")[0]
    spec = load_sidecar(write(tmp_path, example))

    assert evaluate_outcome(spec, {"speedup": 1.3, "max_error": 1e-7}, 0).label == "faster"
    assert error(tmp_path, example.replace("speedup >= 1.2", "speedupp >= 1.2")) == (
        "16: outcomes.faster.condition: names 'speedupp', which is not in [result_schema] "
        "(speedup, max_error)")


def test_a_null_result_leaves_the_condition_undecided(tmp_path: Path) -> None:
    spec = load_sidecar(write(tmp_path, sidecar("debug", 'symptom = "s"', "drift < 1")))

    assert evaluate_outcome(spec, {"drift": None}, exit_code=0).reason == (
        "outcome held: the condition is neither true nor false (drift is null)")
