import json

import pytest

from utils.run_results import load_run_results, results_header, train_test_gap, write_results


def _run(seed, wd, accuracy):
    return {
        "seed": seed, "weight_decay": wd, "history": [], "final_tta_accuracy": accuracy,
        "final_train_clean_accuracy": 0.9, "training_seconds": 1.0,
    }  # fmt: skip


def _write(tmp_path, runs, **meta):
    blob = {
        "command": "python benchmarks/cifar10_runs.py --preset cpu", "device": "cpu (2 threads)", "torch": "2.x",
        "data": "local copy", "preset": "cpu", "started": "2026-11-25T04:00:00+00:00", "runs": runs,
    } | meta  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps(blob))
    return path


def test_paired_accuracies_match_seeds_across_weight_decays(tmp_path):
    runs = [_run(0, 1e-3, 0.9), _run(0, 0.0, 0.8), _run(1, 0.0, 0.7), _run(1, 1e-3, 0.75), _run(2, 1e-3, 0.5)]
    results = load_run_results(_write(tmp_path, runs))
    seeds, treated, untreated = results.paired_accuracies(1e-3)
    assert seeds == [0, 1]  # seed 2 has no run without decay
    assert treated == pytest.approx([90, 75]) and untreated == pytest.approx([80, 70])
    assert "cpu preset on cpu (2 threads)" in results.provenance() and "2026-11-25" in results.provenance()
    with pytest.raises(ValueError, match="no seed run"):
        results.paired_accuracies(5e-3)


def test_incomplete_files_are_clear_errors(tmp_path):
    path = _write(tmp_path, [_run(0, 0.0, 0.8)])
    blob = json.loads(path.read_text())
    del blob["device"]
    path.write_text(json.dumps(blob))
    with pytest.raises(ValueError, match="missing \\['device'\\]"):
        load_run_results(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_run_results(path)
    bad_run = _run(0, 0.0, 0.8)
    del bad_run["history"]
    with pytest.raises(ValueError, match="run 0 lacks"):
        load_run_results(_write(tmp_path, [bad_run]))


def test_results_header_and_write_results_round_trip(tmp_path):
    header = results_header(["--preset", "cpu", "--out", "a b.json"], "cpu (2 threads)", "a copy", preset="cpu")
    assert header["command"].endswith("--preset cpu --out 'a b.json'") and header["preset"] == "cpu"
    assert {"started", "device", "machine", "cpu", "torch", "data"} <= header.keys()
    assert {"model", "capability", "native_bf16"} <= header["cpu"].keys() and header["cpu"]["model"]
    path = tmp_path / "new" / "results.json"
    write_results(path, header | {"runs": []})
    assert json.loads(path.read_text()) == header | {"runs": []}
    write_results(None, header)  # no file asked for: nothing written, no error


def test_train_test_gap_is_the_clean_train_sample_minus_the_last_one_view_test_accuracy():
    run = _run(0, 0.0, 0.8) | {"history": [{"test_accuracy": 0.5}, {"test_accuracy": 0.75}]}
    assert train_test_gap(run) == pytest.approx(15.0)  # 0.9 - 0.75, in points; not the TTA accuracy (0.8)


def test_provenance_names_the_cpu_model_only_where_the_file_records_it(tmp_path):
    older = load_run_results(_write(tmp_path, [_run(0, 0.0, 0.8)], machine="x86_64"))
    assert "x86_64" not in older.provenance() and "EPYC" not in older.provenance()
    cpu = {"model": "AMD EPYC 9R14", "capability": "AVX512", "native_bf16": True}
    newer = load_run_results(_write(tmp_path, [_run(0, 0.0, 0.8)], cpu=cpu))
    assert newer.provenance().startswith("cpu preset on cpu (2 threads), AMD EPYC 9R14 (torch")


def test_record_choice_stores_the_chosen_name_or_none_and_writes(tmp_path):
    from utils.run_results import choice_mark, record_choice

    first, second = {"name": "a"}, {"name": "b"}
    results = {"candidates": [first, second]}
    record_choice(tmp_path / "r.json", results, second)
    assert results["chosen"] == "b" and json.loads((tmp_path / "r.json").read_text())["chosen"] == "b"
    record_choice(None, results, None)  # nothing met the rule: nothing written
    assert results["chosen"] is None
    assert choice_mark(second, second) == "  <- chosen" and choice_mark(first, second) == ""
    assert choice_mark({"name": "b"}, second) == ""  # the very candidate, not an equal one
