"""Typed value codec between the sandbox and the grader: data in, data out, never code.

The sandbox encodes the values a test reads into JSON; the grader decodes them into exact
builtin, numpy and pandas types. No pickle and nothing callable crosses: a function becomes a
reference the grader can only call back through the sandbox (`RemoteFunction`), anything else
unknown becomes an `Opaque` value that equals nothing. Subclasses collapse to their base, so a
trainee's always-equal `str` subclass arrives as a plain `str`.

The package is also sent, as source, into the trainee's kernel (`kernel_installer`), so its
modules import only the standard library and each other, relatively; numpy and pandas are used
only when already loaded. Whatever the sandbox sends is untrusted: `decode` checks every node
and caps depth, size, digits and lengths; a bad payload raises `CodecError`, which fails that
cell only.
"""

from __future__ import annotations

import functools
from pathlib import Path

from .common import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_INT_DIGITS,
    MAX_NODES,
    MAX_PAYLOAD,
    MAX_STR,
    MIME,
    CodecError,
    Opaque,
    dumps,
    loads,
)
from .decoder import Decoder, decode_payload
from .encoder import Encoder, encode_payload
from .kernel import CappedText, publish_call, publish_export

__all__ = [
    "MAX_DEPTH", "MAX_ELEMENTS", "MAX_INT_DIGITS", "MAX_NODES", "MAX_PAYLOAD", "MAX_STR", "MIME",
    "CappedText", "CodecError", "Decoder", "Encoder", "Opaque", "decode_payload", "dumps",
    "encode_payload", "kernel_installer", "loads", "publish_call", "publish_export",
]

# Load order in the kernel: each module only imports the ones before it.
_MODULES = ("common", "encoder", "decoder", "kernel")


@functools.cache  # the sources do not change while a grader runs; it is sent per notebook
def kernel_installer(name: str) -> str:
    """Kernel code that installs this package as module `name` from its source texts (the
    sandbox cannot import ours), leaving nothing in the trainee's namespace."""
    here = Path(__file__).parent
    sources = [(f"{name}.{part}", (here / f"{part}.py").read_text(encoding="utf-8"))
               for part in _MODULES]
    sources.append((name, Path(__file__).read_text(encoding="utf-8")))
    return ("def __st_install(name, sources):\n"
            "    import sys, types\n"
            "    for full, src in sources:\n"
            "        m = types.ModuleType(full)\n"
            "        m.__package__ = name\n"
            "        if full == name:\n"
            "            m.__path__ = []\n"
            "        sys.modules[full] = m\n"
            "        exec(compile(src, '<safetrain ' + full + '>', 'exec'), m.__dict__)\n"
            f"__st_install({name!r}, {sources!r})\n"
            "del __st_install\n")
