"""The PR checklist comment (Markdown), from templates, kept under GitHub's size limit; every verdict, icon
and count is the judge's.

Everything from the PR passes through `render.safety` on its way out: the template's `finalize`
escapes every expression, and only text built here from escaped parts (a `Markup`) goes out as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from jinja2 import Environment
from markupsafe import Markup

from gym_review_bot.catalogue import FAMILIES, PR_FAMILIES, Catalogue
from gym_review_bot.judge import Judgement
from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.render import blast, layout
from gym_review_bot.render.jinja import environment
from gym_review_bot.render.layout import Delta, Links
from gym_review_bot.render.safety import fence, md_inert, split_fenced
from gym_review_bot.render.words import (
    FIX_PREFIX,
    HEADLINES,
    ICONS,
    MARKER,
    count,
    finding_icon,
    fold_skips,
    id_runs,
    needs_fix,
    problem_counts,
    server_icon,
    skip_groups,
    split_message,
)


@dataclass
class Detail:
    """How much of the report a comment shows; `fit.fit_comment` lowers it until the comment fits."""

    passing: bool = True  # list passing checks
    logs: bool = True  # show log excerpts
    message_chars: int | None = None  # cut prose to this many characters (0: id and title only)
    hints: bool = True  # fix hints and skip reasons
    cut: list[str] = field(default_factory=list)  # what was left out, said in the comment


@dataclass
class CommentContext:
    """What the bot knows beyond the report: all of it from the bot's own inputs, never from the PR."""

    links: Links = field(default_factory=Links)  # the repository and head SHA file links point at
    delta: Delta | None = None  # what changed since the previous review; None on the first one
    run_url: str | None = None
    first_comment: bool = False  # the guide's link goes on the first comment only
    override_help: bool = False  # the bot publishes and something blocks: say how maintainers override
    guide_url: str = layout.GUIDE_URL


def cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit].rstrip() + " … (cut)"


def problems(findings: list[Finding], judgement: Judgement) -> list[Finding]:
    """A server's problems in the order they are listed: blocking and could-not-run, then the rest."""
    first = [f for f in findings if judgement.klass(f) in ("blocking", "not_run")]
    rest = [f for f in findings if judgement.klass(f) in ("warning", "waived", "pre_existing")]
    return first + rest


def md_where(finding: Finding, server_path: str, links: Links) -> str:
    """` · file:line`, a link to the line at the head SHA when the bot knows the repository and SHA."""
    shown = layout.relative(finding.file, server_path)
    if not shown:
        return ""
    if finding.line:
        shown += f":{finding.line}"
    url = links.to(finding.file, finding.line)
    return f" · [{md_inert(shown)}]({url})" if url else f" · <code>{md_inert(shown)}</code>"


def md_problem(finding: Finding, server_path: str, detail: Detail, links: Links, judgement: Judgement) -> Markup:
    """One problem as one list item: icon, id, title, link, the message's first sentence; the rest folded."""
    not_run = " (could not run)" if finding.status == "error" else ""
    head = f"- {finding_icon(finding, judgement)} **{md_inert(finding.id)}** {md_inert(finding.title)}{not_run}"
    head += md_where(finding, server_path, links)
    if detail.message_chars == 0:
        return Markup(head)
    before, log, after = split_fenced(layout.short_message(finding, server_path))
    first, rest = split_message(before)
    head += f": {md_inert(cut(first, detail.message_chars))}"
    folded = []  # in the message's own order: its rest, the log, what follows the log, then the fix
    if detail.hints and rest.strip():
        folded.append(md_inert(cut(rest, detail.message_chars)))
    if log is not None:
        folded.append(fence(log, "  ") if detail.logs else "(log excerpt cut)")
    if detail.hints and after.strip():
        folded.append(md_inert(cut(after, detail.message_chars)))
    # The check's generic fix hint only where the message gives no advice of its own past its first sentence.
    if detail.hints and needs_fix(finding) and not rest.strip():
        fix = md_inert(cut(finding.fix, detail.message_chars))
        folded.append(f"{FIX_PREFIX} {fix}" if folded else fix)  # alone under "Fix", it needs no label
    waiver = judgement.of(finding).waiver
    if detail.hints and waiver is not None:
        until = f" until {waiver.expires.isoformat()}" if waiver.expires else ""
        who = "this registry's .gym-review.yaml" if waiver.source == "config" else "a maintainer's override"
        folded.append(md_inert(f"Waived by {who}{until}: {waiver.reason}"))
    if not folded:
        return Markup(head)
    label = "Fix" if needs_fix(finding) or FIX_PREFIX in after else "Details"
    label += " and log" if log is not None and detail.logs else ""
    body = "\n\n".join(part if part.startswith("  ") else f"  {part}" for part in folded)
    return Markup(f"{head}\n  <details><summary>{label}</summary>\n\n{body}\n\n  </details>")


def table_row(server: ServerReport, judgement: Judgement, catalogue: Catalogue) -> Markup:
    """A server's row: its name (escaped; `|` too, so the row keeps its cells) and one icon per family."""
    cells = " | ".join(layout.family_cells(server.findings, judgement, catalogue))
    return Markup(f"| <code>{md_inert(server.name)}</code> | {cells} |")


def pr_line(findings: list[Finding], judgement: Judgement, catalogue: Catalogue) -> Markup:
    """The PR's own line under the table: per part (description, commits) its worst outcome and the failing
    ids, or why it was skipped; a part the registry's rules leave out is not shown."""
    parts = []
    for family, name in zip(PR_FAMILIES, ("PR description", "commits", "core change"), strict=True):
        if family == "core":
            continue  # a core change has its own summary line (blast_line.md.j2)
        own = [f for f in findings if catalogue.family(f.id) == family]
        if not own or (family != "description" and all(f.skip_kind == "disabled_by_policy" for f in own)):
            continue
        icon = layout.cell_icon(own, judgement)
        failing = [f.id for f in own if f.status in ("fail", "error")]
        if failing:
            parts.append(f"{name}: {icon} ({', '.join(md_inert(i) for i in failing)})")
            continue
        skipped = [f"{ids} {kind or reason}".strip() for ids, kind, reason in skip_groups(own)]
        parts.append(f"{name}: {icon}" + (f" ({md_inert('; '.join(skipped))})" if skipped else ""))
    return Markup(" · ".join(parts))


def delta_line(delta: Delta) -> Markup:
    """ "Since abc1234: 3 fixed, 1 new (GR109), 2 still failing", or that nothing changed."""
    since = f"Since {md_inert(delta.head[:7])}"
    if not delta.fixed and not delta.new and not delta.new_more:
        still = f" ({count(delta.still, 'failure')} still failing)" if delta.still else ""
        return Markup(f"**{since}:** no change{still}.")
    parts = []
    if delta.fixed:
        parts.append(f"{delta.fixed}{'+' if delta.partial else ''} fixed")
    if delta.new or delta.new_more:
        ids = sorted(dict.fromkeys(delta.new))
        more = ", …" if delta.new_more else ""
        parts.append(f"{len(delta.new) + delta.new_more} new ({', '.join(md_inert(i) for i in ids)}{more})")
    if delta.still:
        parts.append(f"{delta.still} still failing")
    return Markup(f"**{since}:** {', '.join(parts)}.")


def headline(judgement: Judgement) -> Markup:
    """`## ❌ gym-review: changes needed (3 errors in 1 server)`: the judge's headline, its counts."""
    icon, words = HEADLINES[judgement.headline]
    if judgement.headline == "error":
        words = f"incomplete, {count(judgement.summary.not_run, 'check')} could not run"
        counts = problem_counts(judgement, not_run=False)
    elif judgement.headline == "incomplete":
        words, counts = "incomplete, no blocking problems in what ran", problem_counts(judgement)
    else:
        counts = problem_counts(judgement)
    return Markup(f"## {icon} gym-review: {words} ({md_inert(counts)})")


def legend(text: str) -> Markup:
    """Only the icons the comment uses, each said once."""
    words = {
        "fail": "blocks merge",
        "error": "could not run (never a pass)",
        "warn": "warning",
        "skip": "skipped",
        "pre": "pre-existing (base fails it too)",
        "waived": "waived or overridden",
    }
    # ⏭️ says itself, and ❌ only needs saying next to ⚠️ (which does not block).
    shown = [k for k in words if ICONS[k] in text and k != "skip" and (k != "fail" or ICONS["warn"] in text)]
    return Markup(" · ".join(f"{ICONS[k]} {words[k]}" for k in shown))


def _md_finalize(value: object) -> str:
    return str(value) if isinstance(value, Markup) else md_inert(value)


_CHART_CHARACTERS = frozenset("0123456789.,-–[]() %")


def chart_text(value: object) -> Markup:
    """A label or count the bot computed, verbatim inside a Mermaid block (where escaping would show);
    anything but digits and range punctuation becomes `?`, so nothing else can ever get in."""
    text = str(value)
    return Markup(text if set(text) <= _CHART_CHARACTERS else "?")


@cache
def _environment() -> Environment:
    env = environment(_md_finalize)
    env.filters.update(
        icon=finding_icon,
        server_icon=server_icon,
        id_runs=id_runs,
        fold_skips=fold_skips,
        cut=cut,
        chart_text=chart_text,
        md_problem=md_problem,
        table_row=table_row,
        pr_line=pr_line,
        delta_line=delta_line,
    )
    env.filters.update(blast.FILTERS)
    env.globals.update(blast.GLOBALS)
    env.tests["has_problem"] = layout.has_problem
    env.tests["no_reach"] = blast.no_reach  # GR501 of a PR that changes no shared code: never shown
    env.globals.update(
        headline=headline,
        problems=problems,
        count=count,
        ICONS=ICONS,
        TABLE_HEAD=Markup(f"| server | {' | '.join(FAMILIES)} |\n|-|{':-:|' * len(FAMILIES)}"),
        FOLD_SERVERS=layout.FOLD_SERVERS,
        servers_in_order=layout.servers_in_order,
        has_problem=layout.has_problem,
    )
    return env


def render_comment(report: Report, judgement: Judgement, detail: Detail, context: CommentContext | None = None) -> str:
    """The comment at one level of detail (see `fit.fit_comment` for the one that fits)."""
    context = context or CommentContext()
    template = _environment().get_template("comment.md.j2")
    body = template.render(report=report, j=judgement, cat=judgement.catalogue, detail=detail, ctx=context)
    return body.rstrip("\n") + "\n\n" + footer(report, context, body) + "\n"


_VERSION = re.compile(r"^[0-9A-Za-z.+-]{1,40}$")


def footer(report: Report, context: CommentContext, body: str) -> str:
    """The legend for the icons used, then version, run, how to re-run and reproduce; the guide on the first comment."""
    shown = report.tool_version if _VERSION.match(report.tool_version) else md_inert(report.tool_version)
    version = f"gym-review {shown}" if report.tool_version else "gym-review"
    if report.head_sha and layout.is_sha(report.head_sha):
        version += f" at {report.head_sha[:7]}"
    parts = [version]
    run = layout.page_url(context.run_url)
    if run:
        parts.append(f"[logs]({run})")
    parts.append(f"re-run: `{layout.RECHECK}`")
    parts.append(f"locally: `{layout.REPRODUCE}`")
    guide = layout.page_url(context.guide_url)
    if context.first_comment and guide:
        parts.append(f"new here? [guide]({guide})")
    if context.override_help:
        parts.append(f"maintainers: `{layout.OVERRIDE}`")
    lines = [f"<sub>{' · '.join(parts)}</sub>"]
    used = legend(body)
    return "\n\n".join([f"<sub>{used}</sub>", *lines] if used else lines)


def render_markdown(report: Report, judgement: Judgement | None = None, context: CommentContext | None = None) -> str:
    """The sticky PR comment: summary first, then one line per problem; never over GitHub's size limit.
    Without a judgement, the report is judged with the config waivers it records."""
    return fit_comment(report, judgement or judge_recorded(report), context=context)


def judge_recorded(report: Report) -> Judgement:
    """The report judged as written: with the config waivers it records (no overrides)."""
    from gym_review_bot.judge import judge, recorded_waivers

    return judge(report, recorded_waivers(report))


# --- size: under GitHub's limit, cutting the least useful parts first and saying so -----------------

GITHUB_LIMIT = 65_536  # characters in an issue comment; GitHub refuses a longer body
CUT_HEADLINE = "Cut to fit GitHub's 65,536-character limit:"
MESSAGE_CHARS = (300, 120)  # the lengths tried, longest first


def comment_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _levels() -> list[Detail]:
    """Ever less detail; every failing check keeps its id and title down to the last one."""
    # Folded parts go first: the passing and skipped lists, log excerpts, then fix hints and message tails.
    cuts = ["the lists of passing and skipped checks", "log excerpts", "fix hints, skip reasons and message details"]
    levels = [
        Detail(),
        Detail(passing=False, cut=cuts[:1]),
        Detail(passing=False, logs=False, cut=cuts[:2]),
        Detail(passing=False, logs=False, hints=False, cut=cuts[:3]),
    ]
    for chars in MESSAGE_CHARS:
        cut = [*cuts, f"messages past {chars} characters (marked … (cut))"]
        levels.append(Detail(passing=False, logs=False, hints=False, message_chars=chars, cut=cut))
    levels.append(Detail(passing=False, logs=False, hints=False, message_chars=0, cut=[*cuts, "all messages"]))
    return levels


def fit_comment(
    report: Report, judgement: Judgement, limit: int = GITHUB_LIMIT, context: CommentContext | None = None
) -> str:
    """The most detailed comment within `limit`; failing to that, per-server counts."""
    for detail in _levels():
        text = render_comment(report, judgement, detail, context)
        if comment_length(text) <= limit:
            return text
    return counts_comment(report, judgement, limit)


def _server_counts(server: ServerReport, judgement: Judgement) -> str:
    klasses = [judgement.klass(f) for f in server.findings]
    blocking, not_run = klasses.count("blocking"), klasses.count("not_run")
    other = sum(k in ("warning", "waived", "pre_existing") for k in klasses)
    parts = [count(blocking, "blocking failure"), count(other, "other failure"), f"{not_run} not run"]
    icon = server_icon(server, judgement)
    return f"- {icon} <code>{md_inert(server.path)}</code> ({server.status}): {', '.join(parts)}"


def counts_comment(report: Report, judgement: Judgement, limit: int = GITHUB_LIMIT) -> str:
    """The last resort: one line of counts per server with a problem, as many as fit."""
    head = [MARKER, str(headline(judgement)), ""]
    if judgement.headline == "error":
        head += ["**The merge gate must not pass this review:** a check that could not run is not a pass.", ""]
    if not judgement.complete:
        head += [f"**Incomplete:** {md_inert('; '.join(judgement.incomplete))}.", ""]
    troubled = [sv for sv in report.servers if any(f.status in ("fail", "error") for f in sv.findings)]
    quiet = len(report.servers) - len(troubled)
    lines: list[str] = []
    budget = limit - comment_length("\n".join(head)) - 600  # room for the cut line and the tail
    for server in troubled:
        line = _server_counts(server, judgement)
        budget -= comment_length(line) + 1
        if budget < 0:
            break
        lines.append(line)
    cut = ["every check's id, title and message (per-server counts instead)"]
    if quiet:
        cut.append(f"{count(quiet, 'server')} with no failing check")
    if report.notes:
        cut.append(count(len(report.notes), "note"))
    if len(lines) < len(troubled):
        cut.append(f"{count(len(troubled) - len(lines), 'more server')} with failing checks")
    cut_line = f"**{CUT_HEADLINE}** {'; '.join(cut)}. The JSON report has everything."
    return "\n".join([*head, cut_line, "", *lines, ""])
