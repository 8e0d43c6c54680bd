# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks po/POTFILES.in against the sources.

Usage: /usr/bin/python3 check-potfiles.py [--xgettext] SOURCE_ROOT
Prints TAP.

Without --xgettext: a file under src/ or data/ with a string marked for
translation must be listed, or its strings never reach the translators; a
listed file must exist, or updating the template fails.

With --xgettext: the template is made from the list the way
`meson compile tincan-pot` makes it, and xgettext must not warn. Its usual
warning is a msgid cut short by a macro (`_("%" G_GSIZE_FORMAT " bytes")`):
xgettext sees only "%", so the message can never be translated.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

# _("…"), N_("…"), C_("ctx", "…"), NC_, Q_, and the gettext functions.
C_MARK = re.compile(
    r'(?<![\w])(?:N_|_|C_|NC_|Q_)\s*\(|\b(?:g_d?n?gettext|g_dpgettext2?|d?n?gettext)\s*\('
)
UI_MARK = re.compile(r'translatable\s*=\s*"(?:yes|true|1)"')
SCHEMA_MARK = re.compile(r'gettext-domain\s*=')

# The keywords and flags of meson's i18n.gettext(preset: 'glib').
XGETTEXT_ARGS = [
    "--from-code=UTF-8", "--add-comments",
    "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3",
    "--flag=N_:1:pass-c-format", "--flag=C_:2:pass-c-format", "--flag=NC_:2:pass-c-format",
    "--flag=g_dngettext:2:pass-c-format", "--flag=g_strdup_printf:1:c-format",
    "--flag=g_string_printf:2:c-format", "--flag=g_string_append_printf:2:c-format",
    "--flag=g_error_new:3:c-format", "--flag=g_set_error:4:c-format",
    "--flag=g_markup_printf_escaped:1:c-format", "--flag=g_log:3:c-format",
    "--flag=g_print:1:c-format", "--flag=g_printerr:1:c-format",
    "--flag=g_printf:1:c-format", "--flag=g_fprintf:2:c-format",
    "--flag=g_sprintf:2:c-format", "--flag=g_snprintf:3:c-format",
]


def has_translatable_strings(path):
    name = os.path.basename(path)
    if not name.endswith((".c", ".h", ".ui", ".gschema.xml", ".desktop.in",
                          ".metainfo.xml.in", ".appdata.xml.in")):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (UnicodeDecodeError, OSError):
        return False

    if name.endswith((".c", ".h")):
        return C_MARK.search(text) is not None
    if name.endswith(".ui"):
        return UI_MARK.search(text) is not None
    if name.endswith(".gschema.xml"):
        return SCHEMA_MARK.search(text) is not None
    # Merged by i18n.merge_file: all of them are translated.
    return True


def read_potfiles(potfiles):
    listed = []
    with open(potfiles, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                listed.append(line)
    return listed


def check_list(root, potfiles):
    listed = read_potfiles(potfiles)
    found = set()
    for top in ("src", "data"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                if has_translatable_strings(path):
                    found.add(os.path.relpath(path, root))

    print("1..3")
    failed = False

    missing = sorted(found - set(listed))
    if missing:
        failed = True
        print("not ok 1 - every file with translatable strings is in po/POTFILES.in")
        for path in missing:
            print(f"# missing from po/POTFILES.in: {path}")
    else:
        print(f"ok 1 - every file with translatable strings is in po/POTFILES.in ({len(found)} files)")

    stale = [path for path in listed if not os.path.isfile(os.path.join(root, path))]
    if stale:
        failed = True
        print("not ok 2 - every file in po/POTFILES.in exists")
        for path in stale:
            print(f"# listed but does not exist: {path}")
    else:
        print("ok 2 - every file in po/POTFILES.in exists")

    duplicates = sorted({path for path in listed if listed.count(path) > 1})
    if duplicates:
        failed = True
        print("not ok 3 - po/POTFILES.in lists each file once")
        for path in duplicates:
            print(f"# listed more than once: {path}")
    else:
        print("ok 3 - po/POTFILES.in lists each file once")

    # Harmless, but worth knowing when a file lost its last string.
    for path in listed:
        if path not in found and os.path.isfile(os.path.join(root, path)):
            print(f"# note: {path} is listed but has no translatable strings")

    return failed


def check_xgettext(root, potfiles):
    print("1..1")
    xgettext = shutil.which("xgettext")
    if xgettext is None:
        print("ok 1 # SKIP xgettext not installed")
        return False

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, "tincan.pot")
        result = subprocess.run(
            [xgettext, *XGETTEXT_ARGS, "-D", root, "-f", potfiles, "-o", pot],
            capture_output=True, text=True, check=False)
        messages = (result.stdout + result.stderr).strip()
        n_strings = 0
        if os.path.exists(pot):
            with open(pot, encoding="utf-8") as f:
                # The first msgid is the header's.
                n_strings = sum(1 for line in f if line.startswith("msgid ")) - 1

    if result.returncode != 0 or messages or n_strings <= 0:
        print("not ok 1 - xgettext extracts the strings of po/POTFILES.in without a warning")
        for line in messages.splitlines():
            print(f"# {line}")
        return True

    print(f"ok 1 - xgettext extracts {n_strings} strings without a warning")
    return False


def main():
    args = sys.argv[1:]
    xgettext_mode = "--xgettext" in args
    args = [arg for arg in args if arg != "--xgettext"]
    if len(args) != 1:
        print("usage: check-potfiles.py [--xgettext] SOURCE_ROOT", file=sys.stderr)
        return 2

    root = os.path.abspath(args[0])
    potfiles = os.path.join(root, "po", "POTFILES.in")
    failed = check_xgettext(root, potfiles) if xgettext_mode else check_list(root, potfiles)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
