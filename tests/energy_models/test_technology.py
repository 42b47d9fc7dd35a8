import json

import pytest

from energy_models import list_technologies, load_technology, parse_technology
from energy_models.errors import InputError


def _raw():
    return json.loads(json.dumps({
        "name": "t", "reference": "r",
        "int_add_pj": {"32": {"value": 0.1, "source": "s"}},
        "int_mult_pj": {"8": {"value": 0.2, "source": "s"}},
        "memories": {"dram": {"word_bits": 32, "read_pj": {"value": 640, "source": "s"},
                              "write_pj": {"value": 640, "source": "s"}},
                     "sram": {"word_bits": 32, "read_pj": {"value": 5, "source": "s"},
                              "write_pj": {"value": 5, "source": "s"}}},
    }))


def test_default_table_is_horowitz():
    assert list_technologies() == ["horowitz45"]
    t = load_technology()
    assert t.name == "horowitz45" and "ISSCC 2014" in t.reference and "NIPS 2015" in t.reference
    assert dict(t.int_add_pj) == {8: 0.03, 32: 0.1}
    assert dict(t.int_mult_pj) == {8: 0.2, 32: 3.1}
    assert t.memory("dram").read_pj_per_bit == 20.0 and t.memory("sram").read_pj_per_bit == 5 / 32
    assert t.memory("cache_1mb").word_bits == 64 and t.memory("cache_1mb").read_pj == 100.0
    assert (t.memory("dram64_low").read_pj, t.memory("dram64_high").read_pj) == (1300.0, 2600.0)
    assert float(t.add_energy_pj(16)) == pytest.approx(0.03 + 0.07 * 8 / 24)  # interpolated, no table entry
    assert float(t.add_energy_pj(24)) == pytest.approx(0.03 + 0.07 * 16 / 24)
    assert float(t.add_energy_pj(64)) == pytest.approx(0.2)    # proportional beyond the table
    assert float(t.add_energy_pj(4)) == pytest.approx(0.015)   # and below it
    assert t.mult_coefficient_pj == pytest.approx((0.2 * 64 + 3.1 * 1024) / (8**4 + 32**4))


def test_every_number_has_a_citation():
    raw = json.loads(open(load_technology.__globals__["resources"].files("energy_models")
                          .joinpath("data", "horowitz45.json")).read())
    for section in ("int_add_pj", "int_mult_pj"):
        assert all(entry["source"] for entry in raw[section].values())
    for level in raw["memories"].values():
        assert level["read_pj"]["source"] and level["write_pj"]["source"]


def test_each_citation_names_the_source_that_holds_the_number():
    """Fig. 1.1.9 of Horowitz's ISSCC paper holds the operations, the 64-bit caches and the DRAM range;
    the 32-bit SRAM (5 pJ) and DRAM (640 pJ) are Table 1 of Han et al. (NIPS 2015); writes are assumptions."""
    raw = json.loads(open(load_technology.__globals__["resources"].files("energy_models")
                          .joinpath("data", "horowitz45.json")).read())
    entries = [entry for section in ("int_add_pj", "int_mult_pj") for entry in raw[section].values()]
    entries += [level["read_pj"] for name, level in raw["memories"].items() if name not in ("sram", "dram")]
    assert all("ISSCC 2014, Fig. 1.1.9" in e["source"] for e in entries)
    for name in ("sram", "dram"):
        assert "NIPS 2015, Table 1" in raw["memories"][name]["read_pj"]["source"]
    assert all(level["write_pj"]["source"].startswith("assumption") for level in raw["memories"].values())
    assert "16" not in raw["int_add_pj"]  # no source gives a 16-bit add: it is interpolated


def test_user_tables_in_json_and_yaml(tmp_path):
    j = tmp_path / "mine.json"
    j.write_text(json.dumps(_raw()))
    assert load_technology(j).name == "t"
    y = tmp_path / "mine.yaml"
    import yaml

    y.write_text(yaml.safe_dump(_raw()))
    assert load_technology(y).memory("sram").read_pj == 5


@pytest.mark.parametrize("mutate, match", [
    (lambda r: r.pop("memories"), "missing or empty 'memories'"),
    (lambda r: r.pop("int_mult_pj"), "missing or empty 'int_mult_pj'"),
    (lambda r: r["int_add_pj"]["32"].__setitem__("value", -0.1), r"int_add_pj\[32\]: energy must be >= 0 and <="),
    (lambda r: r["int_add_pj"]["32"].__setitem__("value", 1e308), r"energy must be >= 0 and <= 1e\+06 pJ, got 1e\+308"),
    (lambda r: r["int_mult_pj"]["8"].__setitem__("value", float("nan")), "energy must be a finite number, got nan"),
    (lambda r: r["memories"]["dram"]["read_pj"].__setitem__("value", float("inf")), "read_pj: energy must be a finite"),
    (lambda r: r["memories"]["dram"].__setitem__("word_bits", 10**30), "word_bits must be an integer between 1"),
    (lambda r: r["memories"]["dram"].__setitem__("word_bits", 32.0), "word_bits must be an integer"),
    (lambda r: r["memories"]["dram"].__setitem__("banks", 4), r"memories.dram: unknown field\(s\) \['banks'\]"),
    (lambda r: r["int_add_pj"]["32"].__setitem__("cite", "x"), r"unknown field\(s\) \['cite'\]"),
    (lambda r: r["int_add_pj"].__setitem__("1000", {"value": 1, "source": "s"}), "between 1 and 256"),
    (lambda r: r["int_add_pj"].__setitem__("032", {"value": 1, "source": "s"}), "gives a bit-width twice"),
    (lambda r: r["int_mult_pj"]["8"].__setitem__("value", 0), "int_mult_pj must have a non-zero energy"),
    (lambda r: r["int_add_pj"]["32"].__setitem__("value", "cheap"), "must be a finite number"),
    (lambda r: r["int_add_pj"]["32"].pop("source"), "needs a 'source' citation"),
    (lambda r: r["memories"]["dram"].pop("write_pj"), "missing 'write_pj'"),
    (lambda r: r["memories"]["dram"].__setitem__("word_bits", 0), "word_bits must be an integer .* got 0"),
    (lambda r: r["int_mult_pj"].__setitem__("x", {"value": 1, "source": "s"}), "is not a bit-width"),
    (lambda r: r.__setitem__("voltage", 0.9), r"unknown field\(s\) \['voltage'\]"),
    (lambda r: r.pop("name"), "missing string field 'name'"),
])
def test_malformed_tables_are_clear_errors(mutate, match):
    raw = _raw()
    mutate(raw)
    with pytest.raises(InputError, match=match):
        parse_technology(raw, "'t.json'")


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_technology(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_technology(bad)
    with pytest.raises(InputError, match="unknown technology 'tsmc7'"):
        load_technology("tsmc7")
    with pytest.raises(InputError, match="has no memory level 'hbm'"):
        load_technology().memory("hbm")


@pytest.mark.parametrize("suffix, text, match", [
    (".json", '{"name": "a", "name": "b"}', "has the key 'name' twice"),
    (".yaml", "name: a\nname: b\n", "twice"),
    (".json", '{"name": NaN}', "NaN"),
    (".json", '{"name": ' + "1" * 5000 + "}", "integer of 5000 digits"),
    (".json", "[" * 5000 + "]" * 5000, "nested more than"),
])
def test_user_tables_are_read_strictly(tmp_path, suffix, text, match):
    path = tmp_path / f"t{suffix}"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_technology(path)


def test_special_files_are_refused(tmp_path):
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(InputError, match="is a directory, not a regular file"):
        load_technology(tmp_path / "folder.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(InputError, match="is not UTF-8 text"):
        load_technology(bad)
