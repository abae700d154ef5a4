"""The audit report's JSON Schema, generated from the models (committed as schema/audit-1.schema.json)."""

from __future__ import annotations

import json

from gym_review_bot.audit.models import AUDIT_SCHEMA_VERSION, AuditReport

SCHEMA_FILE = f"schema/audit-{AUDIT_SCHEMA_VERSION}.schema.json"


def audit_schema_text() -> str:
    """The schema as committed: sorted keys, two-space indent, one trailing newline."""
    schema = AuditReport.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://github.com/gym-review-bot/gym-review-bot/{SCHEMA_FILE}"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # regenerate: python -m gym_review_bot.audit.schema > schema/audit-1.schema.json
    print(audit_schema_text(), end="")
