"""The walkthrough notebook runs top to bottom in the project's own Python, so it cannot rot."""

from __future__ import annotations

import ast
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"
# The notebook is for library users: it may use only what the public API promises.
PUBLIC_MODULES = {"qabot", "qabot.evaluation", "qabot.offline"}


def outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_walkthrough_imports_only_the_public_api():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    modules = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom):
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
    used = {m for m in modules if m == "qabot" or m.startswith("qabot.")}
    assert used == PUBLIC_MODULES


@pytest.mark.slow
def test_walkthrough_runs(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    index_files = sorted(p.name for p in (ROOT / "index").glob("*"))
    # A last cell reports which Python ran the kernel: it must be this project's.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(
        notebook,
        kernel_name="python3",  # jupyter_client runs "python" kernels with this very interpreter
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert outputs_text(code[-1]).strip() == sys.executable
    text = "\n".join(outputs_text(cell) for cell in code)
    assert "FAQ entries, model all-MiniLM-L6-v2" in text
    assert "NATO" in text and "I don't know" in text
    assert "hit@1" in text and "accuracy" in text
    assert "recommended threshold" in text and "Platt step" in text
    images = [
        output
        for cell in code
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) == 3  # threshold, scores, reliability
    assert sorted(p.name for p in (ROOT / "index").glob("*")) == index_files  # ./index untouched
