"""The report's JSON Schema, generated from the pydantic models (committed as schema/report-1.schema.json)."""

from __future__ import annotations

import json

from gym_review_bot.models import SCHEMA_VERSION, Report, adapter

SCHEMA_FILE = f"schema/report-{SCHEMA_VERSION}.schema.json"


def report_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, one trailing newline."""
    schema = adapter(Report).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://github.com/gym-review-bot/gym-review-bot/{SCHEMA_FILE}"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # regenerate: python -m gym_review_bot.schema > schema/report-1.schema.json
    print(report_schema_text(), end="")
