"""`lamina route`: explain and eval, with the router built from a lamina.toml and a fake encoder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lamina.models.encoder as embeddings
from lamina.cli import app
from lamina.models.testing import HashingEncoder

TOML = """
default_model = "m-default"

[router]
aggregate = "max"  # the default for an agent's router, said here to be tested

[[routes]]
name = "maths"
model = "m-maths"
utterances = ["add two numbers", "multiply numbers together"]

[[routes]]
name = "weather"
model = "m-weather"
utterances = ["weather forecast today", "will it rain"]
threshold = 0.6
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The router creates its default encoder through this function on first use.
    monkeypatch.setattr(embeddings, "default_encoder", lambda: HashingEncoder(dim=4096))
    path = tmp_path / "lamina.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_explain_json(config: Path) -> None:
    code, out = _invoke("route", "explain", "will it rain today", "--config", str(config), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["text"] == "will it rain today"
    assert data["decision"]["route"] == "weather"
    assert data["decision"]["model"] == "m-weather"
    assert data["decision"]["reason"].startswith("similarity 0.87 ≥ threshold 0.60")
    rows = {r["route"]: r for r in data["routes"]}
    assert set(rows) == {"maths", "weather"}
    assert rows["weather"]["threshold"] == 0.6
    assert rows["maths"]["threshold"] == 0.5
    assert rows["weather"]["chosen"] is True
    assert rows["maths"]["chosen"] is False


def test_route_text_without_subcommand_is_explain(config: Path) -> None:
    code, out = _invoke("route", "--json", "quantum physics", "--config", str(config))
    assert code == 0, out
    data = json.loads(out)
    assert data["decision"]["abstained"] is True
    assert data["decision"]["model"] == "m-default"


def test_explain_table(config: Path) -> None:
    code, out = _invoke("route", "add two numbers", "--config", str(config))
    assert code == 0, out
    for text in ("maths", "weather", "m-maths", "1.000", "0.600", "reason", "similarity 1.00"):
        assert text in out
    code, out = _invoke("route", "quantum physics", "--config", str(config))
    assert code == 0, out
    assert "(abstain)" in out
    assert "no route above threshold" in out


def test_config_defaults_to_lamina_toml_in_cwd(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(config.parent)
    code, out = _invoke("route", "explain", "will it rain", "--json")
    assert code == 0, out
    assert [r["route"] for r in json.loads(out)["routes"]] == ["weather", "maths"]


CSV = """utterance,expected_route,split
add two numbers,maths,train
will it rain,weather,test
good morning,weather,test
quantum physics,,test
multiply numbers together,,train
"""


def test_eval_json(config: Path, tmp_path: Path) -> None:
    data_file = tmp_path / "data.csv"
    data_file.write_text(CSV, encoding="utf-8")
    code, out = _invoke(
        "route", "eval", "--data", str(data_file), "--config", str(config), "--json"
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["n"] == 5
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["confusion"]["weather"] == {"maths": 0, "weather": 1, "(abstain)": 1}
    assert report["confusion"]["(abstain)"] == {"maths": 1, "weather": 0, "(abstain)": 1}
    assert report["per_route"]["maths"]["precision"] == 0.5
    assert report["abstention"]["recall"] == 0.5


def test_eval_table(config: Path, tmp_path: Path) -> None:
    data_file = tmp_path / "data.csv"
    data_file.write_text(CSV, encoding="utf-8")
    code, out = _invoke("route", "eval", "--data", str(data_file), "--config", str(config))
    assert code == 0, out
    for text in ("accuracy 0.600", "macro-F1", "per class", "confusion", "(abstain)", "p95"):
        assert text in out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "found nothing"),
        ("text,label\nhi,maths\n", "missing utterance, expected_route"),
        ("utterance,expected_route\n", "found none"),
        ("utterance,expected_route\nhello,nope\n", "Unknown route label"),
    ],
)
def test_eval_errors_are_one_red_line(
    config: Path, tmp_path: Path, content: str | None, fragment: str
) -> None:
    data_file = tmp_path / "data.csv"
    if content is not None:
        data_file.write_text(content, encoding="utf-8")
    code, out = _invoke("route", "eval", "--data", str(data_file), "--config", str(config))
    assert code == 1
    assert out.startswith("error:")
    assert fragment in out.replace("\n", " ")
    assert "Traceback" not in out


def test_bad_config_is_an_error_line(tmp_path: Path) -> None:
    code, out = _invoke("route", "hello", "--config", str(tmp_path / "missing.toml"))
    assert code == 1
    assert "error:" in out
    assert "Traceback" not in out


def test_route_help_is_light() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from typer.testing import CliRunner
        from lamina.cli import app
        for args in (["route", "--help"], ["route", "eval", "--help"],
                     ["route", "explain", "--help"], ["route", "fit", "--help"]):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, (args, result.output)
        heavy = ("torch", "sentence_transformers", "chromadb", "llama_cpp", "numpy")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# -- fit ----------------------------------------------------------------------------------------

FIT_CSV = """utterance,expected_route
add two numbers,maths
will it rain,weather
multiply numbers,
"""


@pytest.fixture
def fit_data(tmp_path: Path) -> Path:
    path = tmp_path / "fit.csv"
    path.write_text(FIT_CSV, encoding="utf-8")
    return path


def test_fit_saves_a_router_that_eval_can_use(config: Path, fit_data: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "out" / "router.json"
    code, out = _invoke(
        "route", "fit", "--data", str(fit_data), "--config", str(config), "--out", str(out_file),
        "--json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert result["out"] == str(out_file)
    assert result["n"] == 3
    # "multiply numbers" scores 0.82 on maths but should abstain: the fit raises that threshold.
    assert result["accuracy_before"] == pytest.approx(2 / 3)
    assert result["accuracy_after"] == 1.0
    rows = {r["route"]: r for r in result["thresholds"]}
    assert rows["maths"]["before"] == 0.5
    assert 0.82 < rows["maths"]["fitted"] <= 1.0
    assert rows["weather"]["before"] == 0.6
    saved = json.loads(out_file.read_text(encoding="utf-8"))
    assert saved["kind"] == "lamina-router"
    assert saved["fitted_thresholds"]["maths"] == rows["maths"]["fitted"]

    code, out = _invoke(
        "route", "eval", "--data", str(fit_data), "--router", str(out_file), "--json"
    )
    assert code == 0, out
    assert json.loads(out)["accuracy"] == 1.0
    code, out = _invoke("route", "eval", "--data", str(fit_data), "--config", str(config), "--json")
    assert json.loads(out)["accuracy"] == pytest.approx(2 / 3)  # the config alone is unfitted
    code, out = _invoke("route", "multiply numbers", "--router", str(out_file), "--json")
    assert code == 0, out
    assert json.loads(out)["decision"]["abstained"] is True


def test_fit_table(config: Path, fit_data: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "router.json"
    code, out = _invoke(
        "route", "fit", "--data", str(fit_data), "--config", str(config), "--out", str(out_file)
    )
    assert code == 0, out
    for text in ("thresholds fitted on 3", "maths", "0.500", "0.667 → 1.000", "saved to"):
        assert text in out.replace("\n", " ")


def test_fit_needs_out(config: Path, fit_data: Path) -> None:
    code, out = _invoke("route", "fit", "--data", str(fit_data), "--config", str(config))
    assert code == 2
    assert "--out" in out


def test_fit_to_an_unwritable_path_is_an_error_line(config: Path, fit_data: Path) -> None:
    code, out = _invoke(
        "route", "fit", "--data", str(fit_data), "--config", str(config), "--out", "/proc/x.json"
    )
    assert code == 1
    assert out.startswith("error:")
    assert "Could not write the router" in out.replace("\n", " ")


def test_missing_router_file_is_an_error_line(tmp_path: Path) -> None:
    code, out = _invoke("route", "hello", "--router", str(tmp_path / "nope.json"))
    assert code == 1
    assert "no file" in out


def test_llm_option_wires_the_fallback(config: Path) -> None:
    # Unit tests block real model loads, so reaching the load proves the fallback is in place.
    code, out = _invoke(
        "route", "will it rain", "--config", str(config), "--llm", "smollm2-135m-instruct"
    )
    assert code == 1
    assert "loads are switched off" in out.replace("\n", " ")
    code, out = _invoke("route", "will it rain", "--config", str(config), "--llm", "no-such-model")
    assert code == 1
    assert "no-such-model" in out


def test_the_router_table_chooses_the_aggregate_of_lamina_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "default_encoder", lambda: HashingEncoder(dim=4096))
    path = tmp_path / "lamina.toml"
    path.write_text(TOML.replace('aggregate = "max"', 'aggregate = "centroid"'), encoding="utf-8")
    code, out = _invoke("route", "explain", "will it rain today", "--config", str(path), "--json")
    assert code == 0, out
    rows = {r["route"]: r for r in json.loads(out)["routes"]}
    # No threshold of its own: the centroid default (0.4), not the nearest-utterance one (0.5).
    assert rows["maths"]["threshold"] == 0.4
    assert rows["weather"]["threshold"] == 0.6
