"""`roundup classify --evaluate`, `--suggest` and `--explain --json` as an operator
runs them: a subprocess, a real SQLite store, files on disk."""

# ruff: noqa: F811 (the fixtures of test_cli are imported, then named as arguments)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.classify.evaluate import load_labelled
from bot.errors import UsageError
from bot.store import open_store
from tests.test_cli import Run, feeds_config, no_traceback, run  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "feeds.yaml"

STORIES = [
    {"title": "Iran and the E3 meet in Geneva", "expected": "Middle East"},
    {"title": "Mali's junta dissolves political parties", "expected": "Africa"},
    {"title": "Brazil's Lula hosts climate summit", "lede": "", "expected": "Latin America"},
    {"title": "Why the Baltics fear Russia", "tags": ["Analysis | Europe"], "expected": "Europe"},
    # a miss: no rule knows a running mate is U.S. politics
    {"title": "Harris picks a running mate", "expected": "Washington", "hard": True},
]


def test_evaluate_json_prints_figures_matrix_and_misses(run: Run, tmp_path: Path) -> None:
    labelled = tmp_path / "set.json"
    labelled.write_text(json.dumps({"items": STORIES}), encoding="utf-8")
    result = run("classify", "--evaluate", str(labelled), config=CONFIG)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "accuracy:  80.0% (4/5)" in out
    assert "region-tagged   100.0% (1/1)" in out
    assert "hard cases        0.0% (0/1)" in out
    assert "confusion (rows: expected, columns: placed in):" in out
    assert "- item 5: expected Washington, got Global" in out
    assert 'title:      "Harris picks a running mate"' in out  # the miss, explained

    data = json.loads(run("classify", "--evaluate", str(labelled), "--json", config=CONFIG).stdout)
    assert data["accuracy"] == 0.8
    assert [m["key"] for m in data["misses"]] == ["item 5"]
    assert {"expected": "Washington", "placed": "Global", "count": 1} in data["confusion"]


def test_evaluate_csv_min_accuracy_exit_codes_and_bad_rows(run: Run, tmp_path: Path) -> None:
    labelled = tmp_path / "set.csv"
    labelled.write_text(
        "title,lede,tags,url,expected\n"
        "Mali's junta dissolves parties,,,https://example.org/a/,Africa\n"
        "Why the Baltics fear Russia,,Analysis | Europe;NATO,,Europe\n"
        "Harris picks a running mate,,,,Washington\n"
        ",no title here,,,Europe\n"
        "Penguins thrive,,,,Antarctica\n",
        encoding="utf-8",
    )
    ok = run("classify", "--evaluate", str(labelled), "--min-accuracy", "0.6", config=CONFIG)
    assert ok.returncode == 0, ok.stderr
    assert "accuracy:  66.7% (2/3)" in ok.stdout
    assert f"left out: {labelled}: line 5: no title" in ok.stdout
    assert "line 6: expected region 'Antarctica' is not a section" in ok.stdout
    below = run("classify", "--evaluate", str(labelled), "--min-accuracy", "95", config=CONFIG)
    assert below.returncode == 1
    assert "accuracy 66.7% is below --min-accuracy 95.0%" in below.stdout
    no_traceback(below)
    missing = run("classify", "--evaluate", str(tmp_path / "nope.csv"), config=CONFIG)
    assert missing.returncode == 2 and "cannot read" in missing.stderr + missing.stdout
    no_traceback(missing)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("headless.csv", "a,b\n1,2\n", "a CSV needs a header row with title and expected"),
        ("broken.json", '{"items": [', "not valid JSON"),
        ("scalar.json", '"hello"', "expected a list of stories"),
    ],
)
def test_unreadable_labelled_files_are_one_clear_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as caught:
        load_labelled(path, ("Europe", "Global"))
    assert caught.value.exit_code == 2


def test_suggest_and_explain_json_from_the_store(
    run: Run, feeds_config: Path, sqlite_url: str
) -> None:
    run("poll", config=feeds_config)
    items = json.loads(run("items", "--json", config=feeds_config).stdout)
    takaichi = next(i for i in items if "Takaichi" in i["title"])
    explained = json.loads(
        run("classify", "--explain", takaichi["key"], "--json", config=feeds_config).stdout
    )
    assert explained["region"] == "Asia-Pacific"
    assert explained["scores"][0]["region"] == "Asia-Pacific"
    assert explained["scores"][0]["terms"] and "uncertain" in explained

    store = open_store(sqlite_url)
    try:
        store.set_region_manual(takaichi["key"], "Europe")  # an editor's move
        text = run("classify", "--suggest", config=feeds_config).stdout
        assert "1 editor move(s) the current rules disagree with." in text
        assert "Nothing was changed" in text
        proposed = json.loads(run("classify", "--suggest", "--json", config=feeds_config).stdout)
        assert proposed["disagreeing"] == 1
        for s in proposed["suggestions"]:
            assert s["agrees"] == [takaichi["key"]] and s["moves"] >= 0
        kept = store.get_item(takaichi["key"])
        assert kept is not None and (kept.region, kept.region_manual) == ("Europe", True)
    finally:
        store.close()
