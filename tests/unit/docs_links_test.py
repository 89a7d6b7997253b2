"""The documents' relative links lead somewhere: each names a file of the repository and,
after '#', a heading of it (as GitHub makes a heading's anchor).

The README, BUILD.md and docs/ link into each other's measurement sections by heading; a
section renamed or moved (the changes moved to docs/changes.md in session 57) would leave
a link that opens the top of a 3,000-line page, or nothing.
"""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ["README.md", "BUILD.md"] + [os.path.join("docs", name) for name in sorted(
    os.listdir(os.path.join(REPO, "docs"))) if name.endswith(".md")]
_LINK = re.compile(r"\]\(([\w./#][^)\s]*)\)")  # not math such as x[n](−1)


def _anchors(path: str) -> set:
  """GitHub's anchors of a Markdown file's headings (fenced code skipped)."""
  anchors, seen, fenced = set(), {}, False
  with open(path) as f:
    for line in f:
      if line.startswith("```"):
        fenced = not fenced
      match = None if fenced else re.match(r"^#{1,6} (.*?)\s*$", line)
      if match:
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
  return anchors


def test_every_relative_link_names_a_file_and_heading_that_exist():
  broken, checked = [], 0
  for page in PAGES:
    with open(os.path.join(REPO, page)) as f:
      text = f.read()
    for target in _LINK.findall(text):
      if re.match(r"^[a-z]+:", target):  # http(s), mailto: not ours to check
        continue
      checked += 1
      name, _, anchor = target.partition("#")
      path = os.path.normpath(os.path.join(REPO, os.path.dirname(page), name)) if name else (
          os.path.join(REPO, page))
      if not os.path.exists(path):
        broken.append(f"{page}: {target} (no such file)")
      elif anchor and path.endswith(".md") and anchor not in _anchors(path):
        broken.append(f"{page}: {target} (no such heading)")
  assert checked > 100  # the pages do link into each other
  assert not broken, "\n".join(broken)


def test_anchors_follow_githubs_rule():
  # Punctuation dropped, hyphens and underscores kept, spaces made hyphens, repeats numbered.
  path = os.path.join(REPO, "docs", "evaluation.md")
  anchors = _anchors(path)
  assert "the-frequency-crop-time-only-since-2026-12-04-measured-2026-12-04-evening" in anchors
  assert "hear-mobile_sslevaluationhear" in anchors


def _headings(path: str):
  """(level, title) of a page's ##-#### headings, fenced code skipped."""
  out, fenced = [], False
  with open(path) as f:
    for line in f:
      if line.startswith("```"):
        fenced = not fenced
      match = None if fenced else re.match(r"^(#{2,4}) (.*?)\s*$", line)
      if match and match.group(2) != "Contents":
        out.append((len(match.group(1)), match.group(2)))
  return out


def test_a_pages_contents_lists_every_heading_in_order():
  # The long docs pages open with a Contents list; a section added without its line would
  # be found only by scrolling. The message gives the lines to paste.
  pages = [p for p in PAGES if "\n## Contents\n" in open(os.path.join(REPO, p)).read()]
  assert len(pages) >= 4
  for page in pages:
    text = open(os.path.join(REPO, page)).read()
    contents = text.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^( *)- \[(.*)\]\(#[^)]*\)$", contents, flags=re.M)
    wanted = [("  " * (level - 2), title) for level, title in _headings(
        os.path.join(REPO, page))]
    missing = [f"{indent}- [{title}](#...)" for indent, title in wanted
               if (indent, title) not in listed]
    assert listed == wanted, f"{page}: Contents differs from the headings; missing:\n" + (
        "\n".join(missing))
