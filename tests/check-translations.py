# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the translations in po/ against the current sources.

Usage: /usr/bin/python3 check-translations.py SOURCE_ROOT
Prints TAP.

For each language in po/LINGUAS:
- `msgfmt -c --check-format` accepts its .po file (header, plural forms,
  format specifiers that match the msgid's);
- every message of the template made from po/POTFILES.in right now (the
  way `meson compile tincan-pot` makes it) is translated, and none is
  fuzzy. A string added to the code without a translation fails here, by
  name, instead of showing up in English to the user.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile


def load_xgettext_args(here):
    spec = importlib.util.spec_from_file_location(
        "check_potfiles", os.path.join(here, "check-potfiles.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.XGETTEXT_ARGS


def read_linguas(path):
    languages = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0]
            languages.extend(line.split())
    return languages


def run(args):
    return subprocess.run(args, capture_output=True, text=True, check=False)


def entry_ids(po_text):
    """The msgids (with their msgctxt) of the entries of a .po text."""
    ids = []
    ctxt = None
    current = None
    field = None
    for line in po_text.splitlines() + [""]:
        if line.startswith("msgctxt "):
            ctxt = line[len("msgctxt "):].strip()[1:-1]
            field = "ctxt"
        elif line.startswith("msgid "):
            current = line[len("msgid "):].strip()[1:-1]
            field = "id"
        elif line.startswith('"') and field == "id":
            current += line.strip()[1:-1]
        elif line.startswith('"') and field == "ctxt":
            ctxt += line.strip()[1:-1]
        elif not line.strip():
            if current:
                ids.append(current if ctxt is None else f"[{ctxt}] {current}")
            ctxt = None
            current = None
            field = None
        else:
            field = None
    return ids


def main():
    if len(sys.argv) != 2:
        print("usage: check-translations.py SOURCE_ROOT", file=sys.stderr)
        return 2

    root = os.path.abspath(sys.argv[1])
    po_dir = os.path.join(root, "po")
    languages = read_linguas(os.path.join(po_dir, "LINGUAS"))
    tools = [shutil.which(tool) for tool in ("xgettext", "msgfmt", "msgmerge", "msgattrib")]

    print(f"1..{max(1, 2 * len(languages))}")
    if None in tools:
        print("ok 1 # SKIP gettext tools are not installed")
        return 0
    if not languages:
        print("not ok 1 - po/LINGUAS names at least one language")
        return 1

    xgettext, msgfmt, msgmerge, msgattrib = tools
    xgettext_args = load_xgettext_args(os.path.dirname(os.path.abspath(__file__)))
    failed = False
    n = 0

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, "tincan.pot")
        result = run([xgettext, *xgettext_args, "-D", root,
                      "-f", os.path.join(po_dir, "POTFILES.in"), "-o", pot])
        if result.returncode != 0:
            print("Bail out! xgettext cannot make the template: " + result.stderr.strip())
            return 1

        for lang in languages:
            po = os.path.join(po_dir, lang + ".po")

            n += 1
            if not os.path.isfile(po):
                failed = True
                print(f"not ok {n} - po/{lang}.po exists (it is in po/LINGUAS)")
                n += 1
                print(f"not ok {n} - po/{lang}.po translates every message # no file")
                continue
            result = run([msgfmt, "-c", "--check-format", "-o", os.devnull, po])
            if result.returncode != 0:
                failed = True
                print(f"not ok {n} - msgfmt -c --check-format accepts po/{lang}.po")
                for line in result.stderr.strip().splitlines():
                    print(f"# {line}")
            else:
                print(f"ok {n} - msgfmt -c --check-format accepts po/{lang}.po")

            # Merged without fuzzy matching, a message of the template that
            # po/LANG.po lacks stays untranslated and is named below.
            n += 1
            merged = os.path.join(tmp, lang + ".po")
            result = run([msgmerge, "--quiet", "--no-fuzzy-matching", "--no-wrap",
                          "-o", merged, po, pot])
            if result.returncode != 0:
                failed = True
                print(f"not ok {n} - po/{lang}.po translates every message of the template")
                for line in result.stderr.strip().splitlines():
                    print(f"# {line}")
                continue
            untranslated = entry_ids(run([msgattrib, "--untranslated", "--no-obsolete",
                                          "--no-wrap", merged]).stdout)
            fuzzy = entry_ids(run([msgattrib, "--only-fuzzy", "--no-obsolete",
                                   "--no-wrap", merged]).stdout)
            total = len(entry_ids(run([msgattrib, "--no-obsolete", "--no-wrap", pot]).stdout))
            if untranslated or fuzzy or total == 0:
                failed = True
                print(f"not ok {n} - po/{lang}.po translates every message of the template "
                      f"({len(untranslated)} untranslated, {len(fuzzy)} fuzzy of {total})")
                for msgid in untranslated:
                    print(f"# untranslated: {msgid}")
                for msgid in fuzzy:
                    print(f"# fuzzy: {msgid}")
                print(f"# update it: msgmerge --update po/{lang}.po po/tincan.pot "
                      "(after meson compile tincan-pot), then translate")
            else:
                print(f"ok {n} - po/{lang}.po translates all {total} messages of the template")

            obsolete_text = run([msgattrib, "--only-obsolete", "--no-wrap", merged]).stdout
            obsolete = entry_ids("\n".join(line[3:] if line.startswith("#~ ") else line
                                           for line in obsolete_text.splitlines()))
            for msgid in obsolete:
                print(f"# note: no longer in the template: {msgid}")

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
