"""The one JSON Lines reader (safeload.iter_jsonl), on hostile lines: refused with a reason, never a crash."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

from gym_review_bot.evidence.rollouts import iter_rollout_lines
from gym_review_bot.safeload import MAX_JSON_DEPTH, iter_jsonl

CAP = 8 * 1024 * 1024


def errors(data: bytes) -> list[tuple[int, str | None]]:
    return [(item.line, item.error) for item in iter_jsonl(io.BytesIO(data), CAP)]


def test_each_bad_line_is_named_with_why_as_a_predicate_of_the_line() -> None:
    data = b"".join(
        [
            b'{"reward": 1.0}\n',
            b"not json\n",
            b'{"reward": NaN}\n',
            b'{"reward": 1' + b"0" * 400 + b"}\n",
            b'{"text": "\xff"}\n',
            b"[" * (MAX_JSON_DEPTH + 1) + b"1" + b"]" * (MAX_JSON_DEPTH + 1) + b"\n",
            b"\n",
            b"[" * MAX_JSON_DEPTH + b"1" + b"]" * MAX_JSON_DEPTH + b"\n",
        ]
    )
    found = dict(errors(data))
    assert found[1] is None and found[8] is None and 7 not in found  # a blank line is no row
    assert found[2].startswith("is not valid JSON (")
    assert found[3].startswith("is not valid JSON (")  # strict JSON: NaN is not a number
    assert "an integer of 401 digits, a number that does not fit a float" in found[4]
    assert found[5] == "is not valid UTF-8"
    assert found[6] == f"is JSON nested more than {MAX_JSON_DEPTH} levels deep"


def test_what_json_allows_and_orjson_refuses_is_read_as_json_reads_it() -> None:
    """An escaped lone surrogate is JSON by its grammar (json reads it; orjson refuses it): a row, not a bad line."""
    [item] = iter_jsonl(io.BytesIO(b'{"model": "\\ud800"}\n'), CAP)
    assert item.error is None and item.value == {"model": "\ud800"}


def test_the_evidence_reader_is_the_same_reader() -> None:
    data = b'{"reward": 1.0}\n[1, 2]\n' + b"[" * 200 + b"]" * 200 + b"\n"
    rows = list(iter_rollout_lines(io.BytesIO(data)))
    assert rows[0].row == {"reward": 1.0}
    assert rows[1].error == "is not a JSON object"
    assert rows[2].error == f"is JSON nested more than {MAX_JSON_DEPTH} levels deep"


def test_a_line_nested_millions_deep_is_refused_not_a_crash() -> None:
    """Reproduction: orjson before 3.9.15 recursed without a limit (CVE-2024-27454); a 4-million-deep line,
    under the 8 MiB line cap, killed the bot with SIGSEGV. Run in a child: a crash must fail the test, not pytest."""
    code = textwrap.dedent(
        """
        import io
        from gym_review_bot.evidence.rollouts import iter_rollout_lines
        from gym_review_bot.safeload import iter_jsonl
        line = b"[" * 4_000_000 + b"]" * 4_000_000 + b"\\n"
        print([i.error for i in iter_jsonl(io.BytesIO(line), 8 * 1024 * 1024)])
        print([i.error for i in iter_rollout_lines(io.BytesIO(b'{"a":' * 1_200_000 + b"1" + b"}" * 1_200_000))])
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.count(f"is JSON nested more than {MAX_JSON_DEPTH} levels deep") == 2, done.stdout
