"""Course release, validation and batch grading on nbgrader's own APIs."""

import sys

# jsonschema (under nbformat and nbgrader) imports rfc3987_syntax, which compiles about 35
# Lark grammars at import, 1-2 s in every grading process (jsonschema issue #1428), only
# to check the "iri" formats that no notebook or gradebook schema uses. Block the import:
# jsonschema then simply has no iri checker.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
