#!/usr/bin/env python3
"""Checks the code blocks of annals' Markdown docs, so that the docs cannot rot.

Every fenced block whose info string starts with cpp (or c++) is one of:

  ```cpp                a complete translation unit: compiled (-fsyntax-only)
                        against the public headers, as a user would write it;
  ```cpp excerpt        part of a larger program, shown to explain: not
                        compiled, but it must not use annals' private helpers;
  ```<lang> file=PATH   a quotation of PATH (relative to the repo root): its
                        lines must appear in that file, in order and
                        contiguous. PATH is built and tested by CI (for
                        example the getting-started project), so the quote is
                        as alive as the file. Works for cmake and fbs blocks too.

Blocks of other languages without file= are not checked.

Usage: check_docs.py --root DIR --cxx COMPILER [--flag F]... [FILE.md ...]
Exit status 0 when every block passes, 1 otherwise (each failure is listed
with its file and line).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)(.*)$")
# Helpers that live in annals' private headers (common/): a user cannot call
# them, so public docs must not show them.
PRIVATE_HELPERS = re.compile(r"\b(RETURN_IF_ERROR|ASSIGN_OR_RETURN|Check)\s*\(")


def blocks(path):
    """Yields (line number of the fence, language, attributes, body lines)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m and m.group(1):
            start = i
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield start + 1, m.group(1).lower(), m.group(2).strip(), lines[i + 1 : j]
            i = j + 1
        else:
            i += 1


def check_quote(root, attrs, body):
    target = attrs.split("file=", 1)[1].split()[0]
    path = os.path.join(root, target)
    if not os.path.isfile(path):
        return f"quotes {target}, which does not exist"
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\n")
    n = len(body)
    if n == 0:
        return f"quotes {target} but is empty"
    for k in range(len(text) - n + 1):
        if text[k : k + n] == body:
            return None
    return (f"is not a verbatim quote of {target} any more: copy the current lines of "
            f"the file into the block")


def check_compiles(cxx, flags, body):
    with tempfile.NamedTemporaryFile("w", suffix=".cc", delete=False) as f:
        f.write("\n".join(body) + "\n")
        name = f.name
    try:
        r = subprocess.run([cxx, "-std=c++20", "-fsyntax-only", *flags, name],
                           capture_output=True, text=True)
    finally:
        os.unlink(name)
    if r.returncode == 0:
        return None
    first = [l for l in r.stderr.splitlines() if "error" in l][:3]
    return ("does not compile (mark it ```cpp excerpt if it is not a whole program):\n      "
            + "\n      ".join(l.replace(name, "<block>") for l in first))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--flag", action="append", default=[])
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    files = args.files or sorted(
        [os.path.join(args.root, "docs", f) for f in os.listdir(os.path.join(args.root, "docs"))
         if f.endswith(".md")] + [os.path.join(args.root, "README.md")])
    failures = []
    counts = {"compiled": 0, "excerpt": 0, "quoted": 0}
    for path in files:
        rel = os.path.relpath(path, args.root)
        for line, lang, attrs, body in blocks(path):
            where = f"{rel}:{line}"
            if "file=" in attrs:
                counts["quoted"] += 1
                problem = check_quote(args.root, attrs, body)
            elif lang not in ("cpp", "c++"):
                continue
            else:
                m = PRIVATE_HELPERS.search("\n".join(body))
                if m:
                    problem = (f"uses {m.group(1)}(), a private helper of annals; "
                               f"write what a user would write")
                elif attrs.split()[:1] == ["excerpt"]:
                    counts["excerpt"] += 1
                    problem = None
                else:
                    counts["compiled"] += 1
                    problem = check_compiles(args.cxx, args.flag, body)
            if problem:
                failures.append(f"{where}: block {problem}")
    # Header comments are docs too: their examples must not use private helpers.
    include = os.path.join(args.root, "include", "annals")
    for name in sorted(os.listdir(include)) if os.path.isdir(include) else []:
        with open(os.path.join(include, name), encoding="utf-8") as f:
            for n, text in enumerate(f, 1):
                m = PRIVATE_HELPERS.search(text)
                if m and text.lstrip().startswith("//"):
                    failures.append(f"include/annals/{name}:{n}: comment uses {m.group(1)}(), "
                                    f"a private helper of annals")
    for f in failures:
        print(f)
    print(f"check_docs: {counts['compiled']} blocks compiled, {counts['quoted']} quotes checked, "
          f"{counts['excerpt']} excerpts; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
