"""The README's seed parity table: all 26 functions of the seed toolkit (../shared/seed-visualization-summary.md),
each with calls that exist here and that the examples script or the demo notebook runs (tests/test_examples.py
and tests/test_notebook.py execute those two, so every call named in the table is exercised)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

SEED_FUNCTIONS = [  # the seed summary's four modules, in its order (plot_collapse_metrics listed once)
    "extract_attention_maps",
    "visualize_attention_maps",
    "visualize_multihead_attention",
    "visualize_attention_rollout",
    "visualize_hierarchical_attention",
    "visualize_patch_to_patch_attention",
    "visualize_masking_strategy",
    "visualize_masked_image",
    "visualize_context_target_regions",
    "compare_masking_strategies",
    "animate_masking_process",
    "visualize_multi_block_masking",
    "plot_masking_statistics",
    "visualize_predictions",
    "visualize_hierarchical_predictions",
    "visualize_feature_space",
    "visualize_nearest_neighbors",
    "visualize_reconstruction",
    "visualize_embedding_distribution",
    "plot_training_curves",
    "plot_hierarchical_losses",
    "visualize_loss_landscape",
    "visualize_gradient_flow",
    "plot_collapse_metrics",
    "plot_ema_momentum",
    "load_training_logs",
]
REFERENCE = re.compile(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`")  # `analysis.attention.attention_rollout`
PACKAGE_ROOTS = {"analysis", "collect", "masking", "models", "pipeline"}


def table() -> dict[str, str]:
    """Return {seed function: its 'call here' cell} from the rows between the README's parity markers."""
    text = README.read_text(encoding="utf-8")
    body = text.split("<!-- seed-parity:start -->")[1].split("<!-- seed-parity:end -->")[0]
    rows = {}
    for line in [line for line in body.splitlines() if line.strip()][2:]:  # after the header and its rule
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        rows[cells[0].strip("`")] = cells[1]
    return rows


def resolve(reference: str):
    """Import `hjepa_report.<reference>`: the longest importable module prefix, then attributes."""
    parts = reference.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module("hjepa_report." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(reference)


def exercised_source() -> str:
    """The code of the examples script and of the notebook's code cells."""
    script = (ROOT / "examples" / "visualization_example.py").read_text(encoding="utf-8")
    notebook = json.loads((ROOT / "examples" / "demo.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    return "\n".join([script, *cells])


def test_table_covers_all_26_seed_functions_once():
    assert len(SEED_FUNCTIONS) == len(set(SEED_FUNCTIONS)) == 26
    assert list(table()) == SEED_FUNCTIONS


def test_every_named_call_exists_and_is_run_by_the_example_or_notebook():
    source = exercised_source()
    for seed, cell in table().items():
        references = [r for r in REFERENCE.findall(cell) if r.split(".")[0] in PACKAGE_ROOTS]
        assert references, f"{seed}: no call named"
        for reference in references:
            assert callable(resolve(reference)), f"{seed}: {reference} is not callable"
            name = reference.rsplit(".", 1)[1]
            assert re.search(rf"\b{name}\(", source), f"{seed}: {reference} is run by neither example nor notebook"


def test_examples_script_has_one_function_per_seed_function():
    script = (ROOT / "examples" / "visualization_example.py").read_text(encoding="utf-8")
    defined = re.findall(r"^def ([a-z][a-z_]*)\(d: Demo\)", script, flags=re.MULTILINE)
    assert sorted(defined) == sorted(SEED_FUNCTIONS)


def test_resolve_fails_on_a_name_that_does_not_exist():
    import pytest

    with pytest.raises(AttributeError):
        resolve("analysis.attention.no_such_function")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_a_checkpoint_file_given_as_the_run_is_reported_alone(tmp_path):
    """The seed's habit, `visualize.py --checkpoint model.pth --image ...`: `hjepa-report CHECKPOINT.pth --images
    DIR` reports on that checkpoint; the other checkpoint beside it is listed as skipped; nothing is written
    into the checkpoint's folder."""
    from click.testing import CliRunner

    from hjepa_report.cli import main

    run = ROOT / "tests" / "fixtures" / "hjepa_small"
    given = run / "checkpoints" / "checkpoint_epoch_0001.pth"
    before = _snapshot(run)
    args = [given, "--config", run / "config.yaml", "--images", run / "images", "--encoder-heads", 2]
    args += ["--sections", "overview,model,predictions", "--json-only", "-o", tmp_path / "one.html", "-q"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "one.json").read_text())
    assert [c["name"] for c in doc["checkpoints"]] == ["checkpoint_epoch_0001.pth"]
    files = {f["path"]: f for f in doc["files"]}
    assert files["checkpoint_latest.pth"]["status"] == "skipped"
    assert "checkpoint_epoch_0001.pth" in files["checkpoint_latest.pth"]["detail"]
    sections = {s["name"]: s for s in doc["sections"]}
    assert sections["model"]["metrics"]["architecture"]["checkpoint"] == str(given)
    assert sections["predictions"]["status"] == "ok"
    assert doc["run"]["name"] == "checkpoint_epoch_0001.pth" and doc["images"]
    assert _snapshot(run) == before


def test_a_file_that_is_no_checkpoint_is_still_no_run(tmp_path):
    from click.testing import CliRunner

    from hjepa_report.cli import main

    notes = tmp_path / "notes.txt"
    notes.write_text("not a run")
    result = CliRunner().invoke(main, [str(notes), "-o", str(tmp_path / "out" / "r.html"), "-q"])
    assert result.exit_code == 2 and "not a directory" in result.output
