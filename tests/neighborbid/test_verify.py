"""`python -m neighborbid.verify` on files that are not a verify.json (issue 24): a sentence and
exit 2, never a traceback; a leaf whose body is not a JSON object fails at its seq."""

from __future__ import annotations

import hashlib
import json

import pytest

from neighborbid import verify


def leaf(seq: int, body: str) -> dict:
    return {"seq": seq, "body": body, "hash": hashlib.sha256(body.encode()).hexdigest()}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"leaves": [{"seq": 1}]}',
        '{"leaves": [{"seq": 1, "hash": "00"}], "auction": 1, "head": "00"}',
        '{"leaves": [{"seq": 1, "body": 5, "hash": "00"}], "auction": 1, "head": "00"}',
        '{"leaves": [], "head": ""}',
    ],
)
def test_a_file_that_is_no_verify_json_is_bad_input_not_a_crash(tmp_path, capsys, text):
    # given a file that is not an auction's log
    path = tmp_path / "auction.json"
    path.write_text(text, encoding="utf-8")
    # when the command reads it
    code = verify.main([str(path)])
    # then it says so and exits 2 (not 1, which means a log that fails its check)
    assert code == 2
    out = capsys.readouterr()
    assert "not an auction's verify.json" in out.err and out.out == ""


@pytest.mark.parametrize("body", ["not json", "[1, 2]"])
def test_a_leaf_whose_body_is_no_json_object_fails_at_its_seq(tmp_path, capsys, body):
    # given a log whose second leaf hashes right but is no leaf
    first = leaf(1, json.dumps({"seq": 1, "prev": "", "auction": 7}, separators=(",", ":"), sort_keys=True))
    data = {"auction": 7, "head": "", "salt": None, "leaves": [first, leaf(2, body)]}
    data["head"] = data["leaves"][-1]["hash"]
    path = tmp_path / "auction.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    # when the command checks it, then it fails at that leaf
    assert verify.main([str(path)]) == 1
    assert "FAILED at seq 2" in capsys.readouterr().out
