"""GR109 / GR114 on real README licensing variants (most taken from servers merged into NeMo Gym)."""

from __future__ import annotations

import pytest

# (README text, GR109 status, GR114 status or None when GR114 is skipped)
CASES = {
    "scaffold template": (
        "# Description\n\n# Licensing information\nCode: ?\nData: ?\n\nDependencies\n- nemo_gym: Apache 2.0\n",
        "fail",
        None,
    ),
    "code filled, data still ?": ("# Licensing information\nCode: Apache 2.0<br>\nData: ?\n", "fail", None),
    "TBD": ("## License\n\nTBD\n", "fail", None),
    "TODO in a label": ("## Licensing\n- Code: TODO\n- Data: MIT\n", "fail", None),
    "angle placeholder": ("## Licensing information\nCode: <license>\nData: <license>\n", "fail", None),
    "coming soon": ("## Licensing\n\n- Code: Apache 2.0\n- Data: Coming soon\n", "fail", None),
    "no section at all": ("# Circle count\n\nCounts circles in images.\n", "fail", None),
    "section names no licence": ("## Licensing\n\nAsk the authors.\n", "fail", None),
    "licence only in a code block": ("# Srv\n\n```\n# License\nMIT\n```\n", "fail", None),
    "NeMo Gym example": (
        "# Licensing information\nCode: Apache 2.0\nData: Apache 2.0\n\nDependencies\n- nemo_gym: Apache 2.0\n",
        "pass",
        "pass",
    ),
    "data as a list": (
        "# Licensing information\n\nCode: Apache 2.0\nData:\n- HotPotQA: Creative Commons Attribution-ShareAlike 4.0 International\n",
        "pass",
        "pass",
    ),
    "bold labels, SPDX ids": (
        "## License\n\n- **Code**: Apache-2.0\n- **MiniF2F Data**: MIT License (from OpenAI MiniF2F repository)\n",
        "pass",
        "pass",
    ),
    "CC BY-SA link": (
        "## Licensing\n\nCode: Apache 2.0\nDataset: [CC-BY-SA-4.0](https://creativecommons.org/licenses/by-sa/4.0/)\n",
        "pass",
        "pass",
    ),
    "upstream pointer for data": (
        "## Licensing\n\n- Code: Apache 2.0\n- Data ([openai/mrcr](https://huggingface.co/datasets/openai/mrcr)): see upstream license\n",
        "pass",
        "pass",
    ),
    "only a licence name": ("## Licensing information\nApache 2.0\n", "pass", "fail"),
    "code only": (
        "## Licensing\n\nCode: Apache 2.0\nIFBench library: Apache 2.0 (AllenAI)\n",
        "pass",
        "fail",
    ),
    "labelled paragraph, no heading": (
        "# Srv\n\nLicense: MIT for the code and CC BY 4.0 for the data.\n",
        "pass",
        "pass",
    ),
    "SPDX header only": (
        "<!--\nSPDX-License-Identifier: Apache-2.0\n-->\n\n# Circle Count\n",
        "pass",
        "fail",
    ),
    "licence heading with sub-sections": (
        "## Licensing Information\n\n### Code\nApache 2.0\n\n### Data\nCC BY 4.0\n\n## Next\n",
        "pass",
        "pass",
    ),
    # Issue 6: placeholders GR109 passed before; each fails naming its line.
    "code and data TBD, pending legal": (
        "# Licensing information\nCode: TBD, pending legal\nData: TBD, pending legal\n",
        "fail",
        None,
    ),
    "TBA": ("## License\n\nTBA\n", "fail", None),
    "pending legal": ("## Licensing\n\n- Code: Apache 2.0\n- Data: pending legal\n", "fail", None),
    "N/A": ("## Licensing information\nCode: N/A\nData: N/A\n", "fail", None),
    "unknown": ("## Licensing information\nCode: Apache 2.0\nData: unknown\n", "fail", None),
    "question mark alone": ("## License\n\n?\n", "fail", None),
    "dash": ("## Licensing information\nCode: -\nData: -\n", "fail", None),
    "Data: TBD.": ("## Licensing information\nCode: MIT\nData: TBD.\n", "fail", None),
    "to be determined": ("## Licensing\n\nCode: Apache 2.0\nData: to be determined\n", "fail", None),
    "licence named next to TBD": ("## Licensing\n\nCode: Apache 2.0 (TBD)\nData: MIT\n", "fail", None),
    "no recognised licence": ("## Licensing information\nCode: ours\nData: internal\n", "fail", None),
    "bold dash": ("## Licensing information\n**Code**: MIT\n**Data**: \u2014\n", "fail", None),
    # Real variants that must keep passing.
    "SPDX identifiers": ("## License\n\nCode: Apache-2.0\nData: CC-BY-4.0\n", "pass", "pass"),
    "data link only": (
        "## Licensing\n\nCode: MIT\nData: [GSM8K](https://huggingface.co/datasets/openai/gsm8k)\n",
        "pass",
        "pass",
    ),
    "spelled-out names": (
        "# Licensing information\nCode: Apache License 2.0\nData: Open Data Commons Attribution License (ODC-By)\n",
        "pass",
        "pass",
    ),
    "note line in the section": (
        "## Licensing\n\nCode: Apache 2.0\nData: CC BY 4.0\n\nNote: cite the paper when you use the data.\n",
        "pass",
        "pass",
    ),
}
L = "## Licensing\n\n"
TABLE = L + "| Part | Licence |\n|---|---|\n| Code | Apache 2.0 |\n"
# Issue 16: placeholders GR109 passed before; and issue 19 item 4's one rule (a `Data:` line naming neither a
# licence nor a synthetic origin is GR114's; one statement covers data the README says was made for the server).
CASES |= {
    "licence table with N/A": (TABLE + "| Data | N/A |\n", "fail", None),
    "licence table with ?": ("## License\n\n| Code | Data |\n|:-:|:-:|\n| MIT | ? |\n", "fail", None),
    "dash label, ?": (L + "- Code - Apache 2.0\n- Data - ?\n", "fail", None),
    "em dash label, N/A": (L + "Code \u2014 MIT\nData \u2014 N/A\n", "fail", None),
    "licence only inside an HTML comment": (L + "<!-- Code: MIT, Data: CC BY 4.0 -->\n", "fail", None),
    "CC-BY-?": (L + "Code: Apache 2.0\nData: CC-BY-?\n", "fail", None),
    "T.B.D.": (L + "Code: Apache 2.0\nData: T.B.D.\n", "fail", None),
    "a table that passes": (TABLE + "| Data | CC BY 4.0 |\n", "pass", "pass"),
    "Data: says synthetic": (L + "Code: Apache 2.0\nData: example data is synthetic\n", "pass", "pass"),
    "one statement, made for the server": (
        "# S\n\nWritten by hand for this server.\n\n" + L + "Apache-2.0\n",
        "pass",
        "pass",
    ),
    "one statement, synthetic telemetry": (L + "Apache-2.0. All telemetry shipped is synthetic.\n", "pass", "pass"),
    "Data: line with neither": (L + "Code: Apache 2.0\nData: from our partners\n", "pass", "fail"),
    "code names no licence, data does": (L + "Code: ours\nData: MIT\n", "pass", "fail"),
    # #2194 code_fim: the server's own licence, and the upstream source's (where the tasks come from)
    "own licence and the upstream's": (
        L + "Apache 2.0 (the upstream `human-eval-infilling` library is released\nunder the MIT license).\n",
        "pass",
        "pass",
    ),
    "only the upstream's licence": (L + "The upstream benchmark is released under the MIT license.\n", "pass", "fail"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_licence_wording(server_tree, name: str) -> None:
    readme, gr109, gr114 = CASES[name]
    findings = server_tree({"README.md": readme})
    assert findings["GR109"].status == gr109, findings["GR109"].message
    if gr114 is None:
        assert findings["GR114"].status == "skip"
    else:
        assert findings["GR114"].status == gr114, findings["GR114"].message
    if gr109 == "fail":
        assert findings["GR109"].severity == "error" and findings["GR109"].message.strip()
        assert findings["GR109"].line is not None or "no licensing information" in findings["GR109"].message
