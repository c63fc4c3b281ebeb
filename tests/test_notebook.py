"""examples/quickstart.ipynb, the notebook a Kaggle or Colab user opens, executed with nbclient at
a tiny size on the Kaggle split: every cell runs without error and the grids show inline.

The kernel is this interpreter (a kernelspec written to a temporary JUPYTER_PATH at test time),
so nothing needs `python -m ipykernel install` and a clean clone's `make test` runs it.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
KERNEL = "cxrgan-tests"
# What the test changes in the parameters cell: small networks and a budget of seconds.
TINY = {
    "IMAGE_SIZE": 32,
    "EPOCHS": 1,
    "STEPS_PER_EPOCH": 2,
    "EVAL_N": 32,
    "N_PER_CLASS": 24,
    "DEVICE": "cpu",
    "EXTRA_SETTINGS": {"ngf": 8, "ndf": 8, "nz": 16, "progress": False},
}


def _notebook() -> dict:
    return json.loads(NOTEBOOK.read_text("utf-8"))


def _code(cell: dict) -> str:
    return "".join(cell["source"])


def _parameters_cell(nb: dict) -> dict:
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), "the first code cell: parameters"
    return code[0]


def test_notebook_is_valid_and_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with .[dev]")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    raw = _notebook()
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
            ast.parse(_code(cell))  # plain Python: no magics, so it runs in any kernel
    assigned = {
        t.id
        for node in ast.parse(_code(_parameters_cell(raw))).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert set(TINY) | {"DATA", "CXRGAN_PIP"} <= assigned
    # pip runs only when cxrgan is missing (never in the tests, where it is installed)
    install = next(_code(c) for c in raw["cells"] if "subprocess" in _code(c))
    assert 'find_spec("cxrgan") is None' in install


@pytest.fixture
def decode_cache(tmp_path_factory, monkeypatch) -> Path:
    """The decode-once cache of this session's runs on the shared data (as in test_api.py: same
    path), so the 5,216 JPEGs are decoded once, not into ~/.cache. The kernel inherits it."""
    path = tmp_path_factory.getbasetemp() / "xdg-cache"
    path.mkdir(exist_ok=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(path))
    return path


@pytest.fixture
def kernel(tmp_path_factory, monkeypatch) -> str:
    """A kernelspec that starts this interpreter's ipykernel, found through JUPYTER_PATH."""
    pytest.importorskip("ipykernel", reason="ipykernel comes with .[dev]")
    spec = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel_json = {"argv": argv, "display_name": "cxrgan tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel_json))
    monkeypatch.setenv("JUPYTER_PATH", str(spec.parent.parent))
    return KERNEL


@pytest.mark.shared_data
def test_quickstart_notebook_runs(kaggle224, tmp_path, kernel, decode_cache):
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with .[dev]")
    nbclient = pytest.importorskip("nbclient", reason="nbclient comes with .[dev]")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    overrides = {**TINY, "DATA": str(kaggle224)}
    lines = "".join(f"{k} = {v!r}\n" for k, v in overrides.items())
    params.source += "\n# test overrides\n" + lines

    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=300,  # per cell; the whole notebook takes well under a minute here
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError, with the cell's traceback, on any error

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # real grid, epoch grid, losses, quality, one row per class
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "NORMAL" in text and "PNEUMONIA" in text and "overall" in text
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "checkpoints" / "best.safetensors").is_file()
    for name in ("NORMAL", "PNEUMONIA"):
        written = list((tmp_path / "synthetic" / runs[0].name / name).glob("*.png"))
        assert len(written) == TINY["N_PER_CLASS"]
