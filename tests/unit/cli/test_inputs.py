"""JSON arguments (``--input``, ``--event``): inline, ``@file``, ``file://file``; every bad
input is a one-line usage error (exit code 2), never a traceback."""

import json
from pathlib import Path

import click
import pytest

from stepkit.cli.inputs import read_json_argument


def test_a_json_string_is_valid_input():
    assert read_json_argument('"hello"', "--input") == "hello"
    assert read_json_argument("3", "--input") == 3


def test_file_url_reads_as_at_file(tmp_path: Path):
    (tmp_path / "in.json").write_text('{"name": "file"}')
    assert read_json_argument(f"file://{tmp_path / 'in.json'}", "--input") == {"name": "file"}
    assert read_json_argument(f"@{tmp_path / 'in.json'}", "--input") == {"name": "file"}


def test_a_byte_order_mark_is_accepted(tmp_path: Path):
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf[1]")
    assert read_json_argument(f"@{tmp_path / 'bom.json'}", "--input") == [1]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\x01\x02PK\x03\x04", "is a binary file, not JSON text"),
        (b'{"a": "\xff"}', "is not UTF-8 text (byte 0xff at offset 7)"),
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b"{nope", "invalid JSON in"),
    ],
)
def test_unreadable_files_are_usage_errors(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "in.json"
    path.write_bytes(content)
    for form in (f"@{path}", f"file://{path}"):
        with pytest.raises(click.BadParameter) as caught:
            read_json_argument(form, "--input")
        assert reason in caught.value.message and "\n" not in caught.value.message


def test_missing_file_names_it(tmp_path: Path):
    with pytest.raises(click.BadParameter, match=r"cannot read .*nothing\.json: No such file"):
        read_json_argument(f"@{tmp_path / 'nothing.json'}", "--input")


def test_deep_inline_json_and_undecodable_command_line_bytes():
    with pytest.raises(click.BadParameter, match="nested too deeply"):
        read_json_argument("[" * 10_000 + "]" * 10_000, "--input")
    # Undecodable bytes in argv reach Python as surrogate escapes.
    with pytest.raises(click.BadParameter, match="not UTF-8 text"):
        read_json_argument(b'{"a": "\xff"}'.decode("utf-8", "surrogateescape"), "--input")
    assert read_json_argument(json.dumps({"a": "é"}), "--input") == {"a": "é"}
