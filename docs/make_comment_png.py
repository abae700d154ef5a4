"""Make docs/comment.png: the demo PR's comment as GitHub shows it (documented, not run in CI).

Needs headless Chromium from Debian (`apt-get install -y chromium`) and npm (`apt-get install -y npm`)
for GitHub's stylesheet, the `github-markdown-css` package. Run from the repository root:

    python3 docs/make_comment_png.py            # writes docs/comment.png
    python3 docs/make_comment_png.py --html x   # also keeps the page it screenshots

It reviews the bundled demo PR (`gym-review demo --json`), renders the comment with the file links a
PR run would have (repository NVIDIA-NeMo/Gym, the demo's head SHA) and an illustrative "since the
last review" line, turns it into HTML with cmarkgfm (GitHub's renderer) and screenshots it.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import cmarkgfm

from gym_review_bot.models import Report
from gym_review_bot.render import CommentContext, Links, render_markdown
from gym_review_bot.render.layout import compute_delta, current_failing

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 980  # GitHub's conversation column, roughly
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}
body {{ margin: 0; background: #fff; }}
.frame {{ width: {width}px; margin: 16px; border: 1px solid #d0d7de; border-radius: 6px; }}
.head {{ background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: 8px 16px; font: 14px -apple-system,
  BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; color: #59636e; }}
.markdown-body {{ padding: 16px; }}
</style></head>
<body><div class="frame"><div class="head"><b>gym-review-bot</b> commented</div>
<article class="markdown-body">{body}</article></div></body></html>
"""


def demo_report(work: Path) -> Report:
    out = work / "demo.json"
    cmd = [sys.executable, "-m", "gym_review_bot", "demo", "--json", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return Report.model_validate(json.loads(out.read_text()))


def stylesheet(work: Path) -> str:
    """GitHub's Markdown stylesheet (light theme) from the npm package."""
    subprocess.run(["npm", "pack", "github-markdown-css", "--silent"], cwd=work, check=True, capture_output=True)
    [tgz] = work.glob("github-markdown-css-*.tgz")
    with tarfile.open(tgz) as archive:
        member = archive.extractfile("package/github-markdown-light.css")
        assert member is not None
        return member.read().decode()


def comment(report: Report) -> str:
    failing = current_failing(report)
    # Illustrative: as if the previous push failed one more check, since fixed, and lacked the last one.
    previous = [*failing[:-1], ("GR105", "0" * 20)]
    delta = compute_delta("4f2c9e1a7b3d5c6e8f90a1b2c3d4e5f6a7b8c9d0", previous, failing)
    context = CommentContext(
        links=Links("NVIDIA-NeMo/Gym", report.head_sha),
        delta=delta,
        run_url="https://github.com/NVIDIA-NeMo/Gym/actions/runs/1",
        first_comment=True,
    )
    return render_markdown(report, context)


def screenshot(page: Path, png: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    size = f"--window-size={WIDTH + 34},6000"
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={png}", size]
    subprocess.run([chromium, *args, page.as_uri()], check=True, capture_output=True)
    try:
        from PIL import Image, ImageChops
    except ImportError:  # the uncropped page is still a picture
        return
    image = Image.open(png).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    if box:
        image.crop((0, 0, image.width, min(image.height, box[3] + 16))).save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "comment.png")
    parser.add_argument("--html", type=Path, help="also write the page that is screenshot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        markdown = comment(demo_report(work))
        body = cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
        page = work / "comment.html"
        page.write_text(PAGE.format(css=stylesheet(work), width=WIDTH, body=body))
        if args.html:
            args.html.write_text(page.read_text())
        screenshot(page, args.out)
    print(f"wrote {args.out} ({len(markdown)} characters of Markdown, {html.escape(str(WIDTH))} px wide)")


if __name__ == "__main__":
    main()
