# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks a man page against the program it documents.

Usage: /usr/bin/python3 check-manpage.py MANPAGE VERSION [PROGRAM [HELP-OPTION]]
Prints TAP:
 1. groff renders the page with every warning on (-ww) and says nothing;
 2. the page names the project's version;
 3. every long option in the program's --help is described;
 4. every option the page describes still exists.
Without PROGRAM (the program is not built), 3 and 4 are skipped.
"""

import os
import re
import shutil
import subprocess
import sys

HELP_OPTION = re.compile(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)", re.MULTILINE)
# In roff source: \-\-name, as written in the tag line of a .TP item.
ROFF_OPTION = re.compile(r"\\-\\-([a-z][a-z0-9\\-]*[a-z0-9])")


class Tap:
    def __init__(self, n):
        self.index = 0
        self.failed = False
        print(f"1..{n}", flush=True)

    def result(self, ok, name, details=()):
        self.index += 1
        print(f"{'ok' if ok else 'not ok'} {self.index} - {name}", flush=True)
        for line in (details if not ok else ()):
            print(f"# {line}")
        if not ok:
            self.failed = True

    def skip(self, name, reason):
        self.index += 1
        print(f"ok {self.index} - {name} # SKIP {reason}", flush=True)


def mentioned_options(source):
    """Long options written anywhere in the page."""
    return {name.replace("\\-", "-") for name in ROFF_OPTION.findall(source)}


def described_options(source):
    """Long options in the tag lines (the line after .TP) of OPTIONS."""
    options = set()
    in_options = False
    after_tp = False
    for line in source.splitlines():
        if line.startswith(".SH"):
            in_options = line.split(None, 1)[1:] == ["OPTIONS"]
            continue
        if not in_options:
            continue
        if line.startswith(".TP"):
            after_tp = True
            continue
        if after_tp:
            for name in ROFF_OPTION.findall(line):
                options.add(name.replace("\\-", "-"))
            after_tp = False
    return options


def main():
    if len(sys.argv) not in (3, 4, 5):
        print(__doc__, file=sys.stderr)
        return 2

    page = sys.argv[1]
    version = sys.argv[2]
    program = sys.argv[3] if len(sys.argv) > 3 else None
    help_option = sys.argv[4] if len(sys.argv) > 4 else "--help"
    name = os.path.basename(page)

    with open(page, encoding="utf-8") as f:
        source = f.read()

    tap = Tap(4)

    groff = shutil.which("groff")
    if groff is None:
        tap.skip(f"{name} renders without a warning", "groff not installed")
    else:
        result = subprocess.run(
            [groff, "-man", "-Tutf8", "-ww", "-z", page],
            capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).strip()
        tap.result(result.returncode == 0 and not output,
                   f"{name} renders without a warning", output.splitlines())

    th = next((line for line in source.splitlines() if line.startswith(".TH ")), "")
    tap.result(version in th, f"{name} names version {version}", [f"title line: {th}"])

    if program is None:
        tap.skip(f"every option of the program is in {name}", "program not built")
        tap.skip(f"every option in {name} exists", "program not built")
        return 1 if tap.failed else 0

    env = dict(os.environ, LC_ALL="C", LANGUAGE="C")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run([program, help_option], capture_output=True, text=True,
                            env=env, check=False, timeout=30)
    options = set(HELP_OPTION.findall(result.stdout))
    if result.returncode != 0 or not options:
        tap.result(False, f"{os.path.basename(program)} {help_option} lists its options",
                   (result.stdout + result.stderr).splitlines())
        tap.skip(f"every option in {name} exists", "no option list")
        return 1

    # GLib's own help options are documented once, as --help.
    undocumented = sorted(o for o in options
                          if not o.startswith("help-") and o not in mentioned_options(source))
    tap.result(not undocumented, f"every option of the program is in {name}",
               [f"not described: --{o}" for o in undocumented])

    stale = sorted(o for o in described_options(source) if o not in options)
    tap.result(not stale, f"every option in {name} exists",
               [f"described but not an option: --{o}" for o in stale])

    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
