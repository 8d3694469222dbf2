"""Trainee content is data, never markup: outputs and markdown made inert after execution.

The autograded notebook is what formgrader shows instructors and what feedback is made
from, and both render HTML, JavaScript, SVG and markdown live (nbgrader's templates skip
nbconvert's sanitiser for markdown cells; nbconvert writes image width/height into unquoted
attributes). This step keeps:
- stream and error outputs and `text/plain` (every renderer escapes them);
- PNG, JPEG and GIF images whose base64 decodes to the format's magic bytes, with numeric
  width/height only;
and turns every other output type (`text/html`, `application/javascript`, `image/svg+xml`,
`text/markdown`, `text/latex`, `application/vnd.*` bundles, JSON...) into `text/plain`: the
output's own text/plain if it has one, else its source as text.
Markdown and raw cells that are not the instructor's become a fenced code block of their
text, shown verbatim and escaped. A cell is the instructor's when its nbgrader checksum
matches its content (OverwriteCells has restored locked cells from the gradebook; an
unanswered answer cell still has the released stub); trainee-added cells and written answers
are not. Attachments other than checked images are dropped from every cell, and notebook and
cell metadata keep only what grading and display need.

In an HTML exporter (feedback, formgrader) the step also turns on the exporter's sanitiser,
as `HTMLExporter.sanitize_html` does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import compute_checksum

IMAGES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n\r \t"
_BACKTICKS = re.compile(r"`+")
CELL_METADATA = ("nbgrader", "deletable", "editable")
NOTEBOOK_METADATA = ("kernelspec", "language_info")


def _text(value: object) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def image_ok(mime: str, value: object) -> bool:
    """Base64 of a PNG, JPEG or GIF (by its first bytes), nothing else in the string."""
    data = _text(value)
    if mime not in IMAGES or not data.isascii() or data.encode().translate(None, _BASE64):
        return False
    head = "".join(data[:64].split())[:16]
    try:
        first = base64.b64decode(head[: len(head) // 4 * 4], validate=True)
    except (binascii.Error, ValueError):
        return False
    return first.startswith(IMAGES[mime])


def _size(meta: object) -> dict[str, float]:
    if not isinstance(meta, dict):
        return {}
    return {k: meta[k] for k in ("width", "height")
            if isinstance(meta.get(k), int | float) and not isinstance(meta.get(k), bool)}


def inert_output(output: NotebookNode) -> NotebookNode | None:
    """The output with only escaped text and checked images; None for an unknown kind."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return NotebookNode(output_type="stream", name=name, text=_text(output.get("text", "")))
    if kind == "error":
        return NotebookNode(output_type="error", ename=_text(output.get("ename", "")),
                            evalue=_text(output.get("evalue", "")),
                            traceback=[_text(t) for t in output.get("traceback", [])])
    if kind not in ("display_data", "execute_result"):
        return None
    data, metadata, others = {}, {}, []
    for mime, value in dict(output.get("data", {})).items():
        if mime == "text/plain":
            data[mime] = _text(value)
        elif image_ok(mime, value):
            data[mime] = _text(value)
            size = _size(output.get("metadata", {}).get(mime))
            if size:
                metadata[mime] = size
        else:
            others.append(_text(value))
    if "text/plain" not in data and others:
        data["text/plain"] = others[0]
    inert = NotebookNode(output_type=kind, data=data, metadata=metadata)
    if kind == "execute_result":
        count = output.get("execution_count")
        inert.execution_count = count if isinstance(count, int) else None
    return inert


def fenced(text: str) -> str:
    """Markdown that shows `text` verbatim: a code fence longer than any backtick run in it."""
    fence = "`" * max(3, 1 + max((len(m) for m in _BACKTICKS.findall(text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def is_fenced(text: str) -> bool:
    """Already one verbatim block (as `fenced` makes it), so the step can run twice."""
    lines = text.split("\n")
    if len(lines) < 2 or lines[0] != lines[-1] or not _BACKTICKS.fullmatch(lines[0]):
        return False
    inner = "\n".join(lines[1:-1])
    return len(lines[0]) >= 3 and all(len(m) < len(lines[0]) for m in _BACKTICKS.findall(inner))


def instructors(cell: NotebookNode) -> bool:
    """The cell's content is what the instructor released (its nbgrader checksum holds)."""
    meta = cell.metadata.get("nbgrader", {})
    if not isinstance(meta, dict) or not meta.get("grade_id") or not meta.get("checksum"):
        return False
    try:
        return meta["checksum"] == compute_checksum(cell)
    except (KeyError, TypeError, ValueError):
        return False


class InertOutputs(NbGraderPreprocessor):
    """Makes trainee outputs, markdown and attachments inert text (see the module docstring)."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if "should_sanitize_html" in resources:  # inside an HTMLExporter
            resources["should_sanitize_html"] = True
        nb.metadata = NotebookNode({k: v for k, v in nb.metadata.items() if k in NOTEBOOK_METADATA})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        cell.metadata = NotebookNode({k: v for k, v in cell.metadata.items() if k in CELL_METADATA})
        if cell.cell_type == "code":
            cell.outputs = [o for o in map(inert_output, cell.get("outputs", [])) if o is not None]
            cell.pop("attachments", None)
            return cell, resources
        if not instructors(cell):
            source = _text(cell.get("source", ""))
            if cell.cell_type != "markdown" or not is_fenced(source):
                cell.source = fenced(source)
            cell.cell_type = "markdown"
            cell.pop("attachments", None)
        attachments = {
            name: {mime: _text(data) for mime, data in bundle.items() if image_ok(mime, data)}
            for name, bundle in dict(cell.get("attachments") or {}).items()
            if isinstance(bundle, dict)
        }
        attachments = {name: bundle for name, bundle in attachments.items() if bundle}
        if attachments:
            cell.attachments = NotebookNode(attachments)
        else:
            cell.pop("attachments", None)
        return cell, resources
