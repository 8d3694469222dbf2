"""The grader side without a kernel: the typed codec, cell roles and the judge process."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import socket

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import codec
from autograder.cell_roles import INSTRUCTOR, TEST, TRAINEE, ModuleRoles
from autograder.codec import CodecError, Opaque
from autograder.judge import Judge, JudgeFailed, template


def roundtrip(value):
    return codec.decode_payload(codec.encode_payload(value))


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 10**200, 1.5, -0.0, math.inf, -math.inf, "", "安全第一", "a\udc80b",
    "nul\x00byte", b"\x00\xff", [1, [2, (3,)]], (1, "a"), {1, 2}, frozenset({"x"}), {"k": [1], 2: None},
    dt.date(2024, 6, 30), dt.datetime(2024, 6, 30, 8, 1, 2, 3), dt.time(8, 30), dt.timedelta(days=2, seconds=5),
    decimal.Decimal("3.14159"), 1 + 2j,
])
def test_builtins_round_trip_to_the_exact_type(value):
    result = roundtrip(value)
    assert type(result) is type(value) and result == value


def test_nan_round_trips():
    assert math.isnan(roundtrip(float("nan")))


def test_numpy_and_pandas_round_trip_with_dtypes_and_index():
    assert type(roundtrip(np.float64(2.5))) is np.float64
    assert type(roundtrip(np.int32(3))) is np.int32
    assert type(roundtrip(np.bool_(True))) is np.bool_
    arr = np.arange(6, dtype="<i2").reshape(2, 3)
    back = roundtrip(arr)
    assert back.dtype == arr.dtype and (back == arr).all()
    frame = pd.DataFrame({"单位": ["甲", None, "丙"], "项数": [12, 10, 8], "率": [0.5, np.nan, 1.0],
                          "日期": pd.to_datetime(["2024-05-06", None, "2024-05-08"]),
                          "可空": pd.array([1, None, 3], dtype="Int64"),
                          "等级": pd.Categorical(["一般", "重大", "一般"])},
                         index=pd.Index(["a", "b", "c"], name="编号"))
    back = roundtrip(frame)
    pd.testing.assert_frame_equal(back, frame)
    series = frame.groupby(["单位", "等级"], observed=True).size()
    pd.testing.assert_series_equal(roundtrip(series), series)
    assert roundtrip(pd.Timestamp("2024-01-01 08:00")) == pd.Timestamp("2024-01-01 08:00")
    assert roundtrip(pd.NaT) is pd.NaT


def test_subclasses_collapse_to_their_base():
    class AlwaysEqual(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    class EqualList(list):
        def __eq__(self, other):
            return True

    value = roundtrip([AlwaysEqual("A"), EqualList([1])])
    assert type(value[0]) is str and value[0] != "B"
    assert type(value[1]) is list and value[1] != [2]


def test_object_columns_are_decoded_element_by_element():
    class Sneaky:
        def __eq__(self, other):
            return True

    series = pd.Series([Sneaky(), "ok"], dtype=object)
    back = roundtrip(series)
    assert isinstance(back.iloc[0], Opaque) and back.iloc[0] != back.iloc[0]
    assert back.iloc[1] == "ok"


def test_unknown_values_are_opaque_and_equal_to_nothing():
    opaque = roundtrip(object())
    assert isinstance(opaque, Opaque)
    assert opaque != opaque and opaque != 1 and opaque not in [1, None]


@pytest.mark.parametrize("payload", [
    "[" * 100_000 + "]" * 100_000,                                    # deep JSON
    '{"t": "list", "v": [',                                            # broken JSON
    '{"t": "int", "v": "' + "9" * 5000 + '"}',                         # huge int
    '{"t": "int", "v": 12345678901234567890123}',                      # JSON number where text is due
    '{"t": "float", "v": NaN}',                                        # JSON constant
    '{"t": "str", "v": "' + "x" * (codec.MAX_STR + 1) + '"}',          # huge string
    '{"t": "ndarray", "dtype": "O", "shape": [3], "v": []}',           # wrong count
    '{"t": "ndarray", "dtype": "<f8", "shape": [2], "b64": "AAAA"}',   # wrong byte count
    '{"t": "ndarray", "dtype": "V8", "shape": [1], "b64": "AAAAAAAAAAA="}',  # void dtype
    '{"t": "ndarray", "dtype": "<i8", "shape": [100000000000], "b64": ""}',  # huge shape
    '{"t": "pickle", "v": "gASV"}',                                    # unknown tag
    '{"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]}',   # unhashable key
    '{"t": "decimal", "v": "1e999999999"}',                           # huge exponent
    '{"t": "pd.range", "v": [0, 10, 0]}',                              # zero step
])
def test_codec_abuse_raises_codec_error(payload):
    with pytest.raises(CodecError):
        codec.decode_payload(payload)


def test_deeply_nested_values_encode_as_opaque_not_recursion():
    value: list = []
    for _ in range(10_000):
        value = [value]
    decoded = roundtrip(value)
    depth = 0
    while isinstance(decoded, list) and decoded:
        decoded, depth = decoded[0], depth + 1
    assert isinstance(decoded, Opaque) and depth <= codec.MAX_DEPTH + 1



def test_the_kernel_installs_the_codec_from_source_with_the_standard_library_only(tmp_path):
    """The sandbox cannot import our packages: the installer alone must give the kernel a
    working codec, and leave nothing behind in the trainee's namespace."""
    import subprocess
    import sys

    program = (
        "import builtins, sys, types\n"
        "sent = []\n"
        "display = types.ModuleType('IPython.display')\n"
        "display.publish_display_data = lambda data: sent.append(data)\n"
        "sys.modules['IPython'] = types.ModuleType('IPython')\n"
        "sys.modules['IPython.display'] = display\n"
        "class Shell:\n    user_ns = {'q01': {'k': (1, 2.5)}, 'f': len}\n"
        "builtins.get_ipython = lambda: Shell()\n"
        "before = set(globals())\n"
        + codec.kernel_installer("_st_codec")
        + "assert set(globals()) - before == {'before'}, set(globals())\n"
        "assert 'autograder' not in sys.modules\n"
        "m = __import__('_st_codec')\n"
        "m.publish_export(['q01', 'f', 'nope'])\n"
        "m.publish_call(1, m.encode_payload({'args': ['abc'], 'kwargs': {}}))\n"
        "print('\\n'.join(d['" + codec.MIME + "'] for d in sent))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    exported, called = done.stdout.splitlines()
    message = codec.loads(exported)
    assert codec.Decoder().decode(message["values"]["q01"]) == {"k": (1, 2.5)}
    assert message["missing"] == ["nope"]
    assert codec.Decoder().decode(codec.loads(called)["value"]) == 3


# ---------------------------------------------------------------- roles


def _cell(source: str, grade_id: str, **flags: object) -> nbformat.NotebookNode:
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False, **flags}
    return new_code_cell(source, metadata={"nbgrader": meta})


def _source_notebook() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        _cell("import pandas as pd", "setup", locked=True),
        _cell('q01 = ""', "q01_answer", solution=True),
        _cell('assert q01 == "B"', "q01", grade=True, locked=True, points=1),
    ])
    nb.metadata["safetrain"] = {"test_reads": ["q01"]}
    return nb


def test_roles_come_from_the_source_notebook_not_the_submission():
    roles = ModuleRoles.from_notebook(_source_notebook())
    submission = _source_notebook()
    submission.cells[1].metadata.nbgrader.update(grade=True, points=50, solution=False, locked=True)
    submission.cells.append(_cell("pass", "bonus", grade=True, locked=True, points=100))
    assert roles.normalize(submission) == 1
    assert [roles.role_of(c) for c in submission.cells] == [INSTRUCTOR, TRAINEE, TEST, TRAINEE]
    assert "nbgrader" not in submission.cells[3].metadata
    assert submission.cells[1].metadata.nbgrader.solution is True
    assert roles.reads_of('assert q01 == "B" and globals().get("q01")') == ("q01",)


# ---------------------------------------------------------------- the judge process


@pytest.fixture(scope="module")
def judge_template():
    return template()


def _judge(judge_template, isolate: bool = True) -> Judge:
    return judge_template.spawn([], isolate=isolate)


def _export(values: dict, functions: dict | None = None) -> str:
    encoder = codec.Encoder(functions)
    return codec.dumps({"values": {k: encoder.encode(v) for k, v in values.items()}, "missing": []})


def test_judge_scores_like_a_kernel(judge_template):
    judge = _judge(judge_template)
    try:
        assert judge.run("instructor", "import pandas as pd\nanswer_key = 'B'", 10) == []
        passed = judge.run("test", "assert q01 == answer_key", 10, payload=_export({"q01": "B"}), names=["q01"])
        assert passed == []
        failed = judge.run("test", "assert q01 == answer_key, '不对'", 10, payload=_export({"q01": "C"}), names=["q01"])
        assert failed[0]["output_type"] == "error" and failed[0]["evalue"] == "不对"
        assert failed[0]["traceback"] == ["AssertionError: 不对"]  # no source lines
        partial = judge.run("test", "print('note')\n0.5", 10)
        assert [o["output_type"] for o in partial] == ["stream", "execute_result"]
        assert partial[1]["data"]["text/plain"] == "0.5"
        missing = judge.run("test", "q01", 10, payload=codec.dumps({"values": {}, "missing": ["q01"]}),
                            names=["q01"])
        assert missing[0]["ename"] == "NameError"
    finally:
        judge.close()


def test_trainee_values_never_shadow_instructor_definitions(judge_template):
    judge = _judge(judge_template)
    try:
        judge.run("instructor", "answer_key = 'B'", 10)
        out = judge.run("test", "assert answer_key == 'B'", 10, payload=_export({"answer_key": "Z"}),
                        names=["answer_key"])
        assert out == []
    finally:
        judge.close()


def test_bad_payload_fails_the_cell_not_the_judge(judge_template):
    judge = _judge(judge_template)
    try:
        bad = judge.run("test", "q01", 10, payload='{"values": {"q01": {"t": "pickle"}}}', names=["q01"])
        assert bad[0]["output_type"] == "error"
        assert judge.run("test", "1 + 1", 10)[0]["data"]["text/plain"] == "2"
    finally:
        judge.close()


def test_a_test_that_runs_too_long_is_stopped(judge_template):
    judge = _judge(judge_template)
    try:
        out = judge.run("test", "try:\n    while True: pass\nexcept Exception:\n    pass", 1)
        assert out[-1]["ename"] == "JudgeTimeout"
    finally:
        judge.close()


def test_judge_has_no_network(judge_template):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    judge = _judge(judge_template)
    try:
        out = judge.run("test", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)", 10)
        assert out and out[-1]["output_type"] == "error"
    finally:
        judge.close()
        server.close()


def test_remote_functions_call_back_through_the_worker(judge_template):
    """The judge asks the worker to call the trainee's function; the reply replays its output."""
    functions: dict = {}
    payload = _export({"rate": lambda df: None}, functions)
    calls = []

    def on_call(ref: int, request: str, budget: float) -> str:
        args = codec.decode_payload(request)
        calls.append((ref, args["args"][0].shape))
        return codec.dumps({"value": codec.Encoder().encode(42.0), "stdout": "印出\n",
                            "stderr": "", "exc": None})

    judge = _judge(judge_template)
    try:
        out = judge.run("test", "import pandas as pd\nassert rate(pd.DataFrame({'a': [1, 2]})) == 42.0",
                        10, payload=payload, names=["rate"], on_call=on_call)
        assert calls == [(1, (2, 1))]
        assert out == [{"output_type": "stream", "name": "stdout", "text": "印出\n"}]

        def raising(ref: int, request: str, budget: float) -> str:
            return codec.dumps({"value": {"t": "none"}, "stdout": "", "stderr": "",
                                "exc": ["MyError", "KeyError", "LookupError", "Exception"]})

        out = judge.run("test", "rate(1)", 10, payload=payload, names=["rate"], on_call=raising)
        assert out[-1]["ename"] == "KeyError" and "MyError" not in out[-1]["evalue"]
        out = judge.run("test", "rate(1)", 10, payload=payload, names=["rate"],
                        on_call=lambda *a: None)
        assert out[-1]["ename"] == "TimeoutError"
    finally:
        judge.close()


def test_a_dead_judge_is_reported(judge_template):
    judge = _judge(judge_template)
    with pytest.raises(JudgeFailed):
        judge.run("test", "import os\nos._exit(1)", 5)
    judge.close()


# ---------------------------------------------------------------- the course contract


def test_course_validate_enforces_the_test_reads_contract():
    from autograder.test_contract import check_contract, infer_reads
    from autograder.validation import check_notebook

    nb = _source_notebook()
    assert check_contract(nb) == [] and infer_reads(nb) == ["q01"]
    undeclared = _source_notebook()
    undeclared.cells[2].source = "assert q01 == secret_key"
    writes = _source_notebook()
    writes.cells[2].source = "q01 = 'B'\nassert q01 == 'B'"
    missing = _source_notebook()
    del missing.metadata["safetrain"]
    mixed = _source_notebook()
    mixed.cells[1].metadata.nbgrader.update(grade=True, points=1)
    for bad, words in ((undeclared, "secret_key"), (writes, "赋值"), (missing, "test_reads"),
                       (mixed, "既是作答格又是测试格")):
        problems = check_contract(bad)
        assert problems and words in problems[0].message
        assert not next(c for c in check_notebook(bad) if c.name == "reads").passed


def test_the_judge_reruns_only_the_instructor_cells_tests_depend_on():
    nb = new_notebook(cells=[
        _cell("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})", "setup", locked=True),
        _cell("len(df)", "example_01", locked=True),
        _cell("total = df['a'].sum()", "example_02", locked=True),
        _cell("print(pd.__version__)", "example_03", locked=True),
        _cell('q01 = ""', "q01_answer", solution=True),
        _cell("assert q01 == total", "q01", grade=True, locked=True, points=1),
    ])
    roles = ModuleRoles.from_notebook(nb)
    assert roles.judge_needs == {"setup", "example_01", "example_02"}  # not the print-only cell


def test_a_dead_template_is_restarted_once():
    from autograder import judge as judge_module

    old = judge_module.template()
    old.process.kill()
    old.process.wait()
    fresh = judge_module.spawn_judge([], isolate=True)
    try:
        assert fresh.run("test", "1 + 1", 10)[0]["data"]["text/plain"] == "2"
        assert judge_module.template() is not old
    finally:
        fresh.close()


def test_only_cells_matching_the_source_are_marked_as_the_instructors():
    from nbgrader.utils import compute_checksum

    roles = ModuleRoles.from_notebook(_source_notebook())
    submission = _source_notebook()
    submission.cells[0].source = "import os  # changed"
    submission.cells[2].metadata.nbgrader["checksum"] = "forged"
    roles.normalize(submission)
    assert "checksum" not in submission.cells[0].metadata.nbgrader
    assert submission.cells[2].metadata.nbgrader["checksum"] == compute_checksum(submission.cells[2])
