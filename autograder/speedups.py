"""Same results, less CPU, in grading processes only (`install`):

- nbgrader's CheckCellMetadata (run twice per notebook) calls `jsonschema.validate()` for
  every cell, which first re-validates the schema itself: ~0.25 s of a notebook's ~1 s. A
  validator compiled once per schema gives the same verdict and raises the same
  `jsonschema.ValidationError`.
- nbgrader opens its gradebook about ten times per notebook, each time with a new
  SQLAlchemy engine, so every query is compiled again each time. One engine per database
  URL in the worker keeps SQLAlchemy's statement cache; each Gradebook still gets its own
  session and connection, and closing it still returns them (the engine is disposed, its
  cache kept).
"""

from __future__ import annotations

import json
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import jsonschema
import nbgrader.api as nbgrader_api
import nbgrader.nbgraderformat.common as nbgrader_format
from sqlalchemy import Engine, create_engine


@lru_cache(maxsize=8)
def _validator(schema_json: str) -> Any:  # noqa: ANN401 (a jsonschema Validator)
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


_BY_IDENTITY: dict[int, tuple[dict, Any]] = {}  # nbgrader passes the same schema dict each time


def _validate(instance: Any, schema: dict) -> None:  # noqa: ANN401 (any JSON value)
    known = _BY_IDENTITY.get(id(schema))
    if known is None or known[0] is not schema:  # the dict is kept, so its id is not reused
        known = (schema, _validator(json.dumps(schema, sort_keys=True)))
        if len(_BY_IDENTITY) < 32:
            _BY_IDENTITY[id(schema)] = known
    error = jsonschema.exceptions.best_match(known[1].iter_errors(instance))
    if error is not None:
        raise error


_ENGINES: dict[tuple[str, str], Engine] = {}


def _shared_engine(url: str, **kwargs: Any) -> Engine:  # noqa: ANN401 (create_engine's)
    key = (str(url), repr(sorted(kwargs.items())))
    if key not in _ENGINES:
        _ENGINES[key] = create_engine(url, **kwargs)
    return _ENGINES[key]


def install() -> None:
    """Point nbgrader at the cached validate and the shared engines (idempotent)."""
    if not isinstance(nbgrader_format.jsonschema, SimpleNamespace):
        nbgrader_format.jsonschema = SimpleNamespace(validate=_validate)
    nbgrader_api.create_engine = _shared_engine
