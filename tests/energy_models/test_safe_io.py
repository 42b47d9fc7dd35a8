import json
import math
import os
import threading
import time

import pytest
import yaml

from energy_models.errors import InputError
from energy_models.safe_io import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    NonFiniteJSONError,
    dumps_strict,
    load_json_strict,
    load_yaml_strict,
    read_input_text,
)


def _nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


# ---------------------------------------------------------------- read_input_text


def test_reads_a_regular_utf8_file_and_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_bytes("\ufeffname: caf\u00e9\n".encode())
    assert read_input_text(path, "technology table") == "name: caf\u00e9\n"


def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome = {}

    def read():
        try:
            read_input_text(fifo, "bit configuration")
        except InputError as exc:
            outcome["error"] = str(exc)

    start = time.monotonic()
    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert time.monotonic() - start < 5
    assert outcome["error"] == f"bit configuration {str(fifo)!r} is a FIFO (named pipe), not a regular file"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_not_read_without_bound():
    with pytest.raises(InputError, match=r"^bit configuration '/dev/zero' is a character device, not a regular file$"):
        read_input_text("/dev/zero", "bit configuration")


def test_a_directory_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"architecture parameters '.*' is a directory, not a regular file"):
        read_input_text(tmp_path, "architecture parameters")
    with pytest.raises(InputError, match=r"run configuration '.*none.yaml' does not exist"):
        read_input_text(tmp_path / "none.yaml", "run configuration")


def test_the_size_is_capped_before_reading(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"1" * 1001)
    with pytest.raises(InputError, match=r"is 1001 bytes; input files are limited to 1000 bytes"):
        read_input_text(path, "bit configuration", max_bytes=1000)
    assert read_input_text(path, "bit configuration", max_bytes=1001) == "1" * 1001


def test_bytes_that_are_not_utf8_are_refused_with_their_offset(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: caf\u00e9\n".encode("latin-1"))
    message = r"^technology table '.*latin1.yaml' is not UTF-8 text \(byte 0xe9 at offset 6\)$"
    with pytest.raises(InputError, match=message):
        read_input_text(path, "technology table")


# ---------------------------------------------------------------- load_json_strict


def test_json_valid_documents_parse_as_the_standard_parser_does():
    text = '{"a": [1, -2, 3.5, 1e-3, true, null, "x"], "b": {"c": 12345678901234567890}}'
    assert load_json_strict(text, "t.json") == json.loads(text)


@pytest.mark.parametrize("text, message", [
    ('{"a": 1, "a": 2}', "t.json has the key 'a' twice in one object"),
    ('{"x": {"b": 1, "c": 2, "b": 3}}', "t.json has the key 'b' twice in one object"),
    ('{"a": NaN}', "t.json holds NaN; only finite numbers are accepted"),
    ('[Infinity]', "t.json holds Infinity; only finite numbers are accepted"),
    ('[-Infinity]', "t.json holds -Infinity; only finite numbers are accepted"),
    ('{"a": 1e999}', "t.json holds 1e999, which is not a finite number"),
    ("1" * 5000, "t.json holds an integer of 5000 digits; at most 100 are accepted"),
    ("-" + "9" * (MAX_INT_DIGITS + 1), f"holds an integer of {MAX_INT_DIGITS + 1} digits"),
    (_nested(100_000), f"t.json is nested more than {MAX_DEPTH} levels deep"),
    (_nested(MAX_DEPTH + 1), f"t.json is nested more than {MAX_DEPTH} levels deep"),
    ('{"a": [1, 2}', "t.json is not valid JSON: Expecting ',' delimiter (line 1, column 12)"),
])
def test_json_refusals(text, message):
    with pytest.raises(InputError) as info:
        load_json_strict(text, "t.json")
    assert message in str(info.value)


def test_json_limits_are_inclusive():
    assert load_json_strict("9" * MAX_INT_DIGITS, "t.json") == int("9" * MAX_INT_DIGITS)
    value = load_json_strict(_nested(MAX_DEPTH), "t.json")
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []


# ---------------------------------------------------------------- load_yaml_strict


LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


def test_yaml_valid_documents_parse_as_the_safe_loader_does():
    text = "lr: 0.05\nseeds: [0, 1, 2]\nbase: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  x: 3\nname: null\n"
    assert load_yaml_strict(text, "c.yaml") == yaml.safe_load(text)
    assert load_yaml_strict(text, "c.yaml")["merged"] == {"x": 3, "y": 2}  # a merge key is not a duplicate
    assert load_yaml_strict("", "c.yaml") is None


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb: 2\na: 3\n", "c.yaml has the key 'a' twice in one mapping (line 3)"),
    ("x:\n  1: a\n  0x1: b\n", "c.yaml has the key 1 twice in one mapping"),
    ("lr: .nan\n", "c.yaml holds .nan (line 1); only finite numbers are accepted"),
    ("lr: -.inf\n", "c.yaml holds -.inf (line 1); only finite numbers are accepted"),
    ("lr: 1.0e+999\n", "c.yaml holds 1.0e+999 (line 1); only finite numbers are accepted"),
    ("seed: " + "1" * 5000 + "\n", "c.yaml holds an integer of 5000 digits; at most 100 are accepted"),
    ("a: !!python/object/apply:os.system ['echo hi']\n", "c.yaml cannot be parsed as YAML: could not determine "
                                                          "a constructor for the tag"),
    (LAUGHS, "c.yaml expands to more than 100000 values through its aliases"),
    ("a: &a [1, *a]\n", "c.yaml holds a recursive alias"),
    (_nested(1_000_000), f"c.yaml is nested more than {MAX_DEPTH} levels deep"),
    ("- " * 10_000 + "1\n", f"c.yaml is nested more than {MAX_DEPTH} levels deep"),
    (_nested(MAX_DEPTH + 1), f"c.yaml is nested more than {MAX_DEPTH} levels deep"),
    # a shallow anchor reused deep inside: deeper once expanded
    ("a: &a " + _nested(40) + "\nb: " + "[" * 40 + "*a" + "]" * 40 + "\n", "nested more than"),
    ("seed: [1, 2\n", "c.yaml cannot be parsed as YAML: expected ',' or ']', but got '<stream end>' (line 2"),
])
def test_yaml_refusals(text, message):
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        load_yaml_strict(text, "c.yaml")
    assert message in str(info.value)
    assert time.monotonic() - start < 5  # refused without expanding or scanning everything


def test_yaml_limits_are_inclusive():
    value = load_yaml_strict(_nested(MAX_DEPTH), "c.yaml")
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []
    assert load_yaml_strict("n: " + "9" * MAX_INT_DIGITS, "c.yaml") == {"n": int("9" * MAX_INT_DIGITS)}


# ---------------------------------------------------------------- dumps_strict


def test_dumps_strict_writes_what_json_dumps_writes():
    obj = {"a": [1, 2.5, None, True], "b": {"c": "x"}}
    assert dumps_strict(obj, indent=1) == json.dumps(obj, indent=1)
    assert load_json_strict(dumps_strict(obj), "round trip") == obj


@pytest.mark.parametrize("value, where", [(math.nan, "$.models.quanos.loss[1] = nan"),
                                          (math.inf, "$.models.quanos.loss[1] = inf"),
                                          (-math.inf, "$.models.quanos.loss[1] = -inf")])
def test_dumps_strict_refuses_non_finite_numbers_and_names_them(value, where):
    with pytest.raises(NonFiniteJSONError) as info:
        dumps_strict({"models": {"quanos": {"loss": [0.5, value]}}})
    assert str(info.value) == f"refusing to write a non-finite number as JSON: {where}"
    assert isinstance(info.value, ValueError) and not isinstance(info.value, InputError)  # a bug, not bad input
