# SPDX-License-Identifier: GPL-3.0-or-later
"""Installs the build into a temporary DESTDIR and checks what arrives.

Usage: /usr/bin/python3 check-install.py --meson MESON --builddir DIR
         --prefix P --bindir D --datadir D --mandir D --localedir D
         --app-id ID --schema-id ID --linguas po/LINGUAS [--with-app]
Prints TAP. The list is what a Flatpak build and a software centre read:
the three programs, the desktop file, metainfo, icons, schema, D-Bus
service, man pages and one catalog per language in po/LINGUAS, each
under its app-id name, and each of them usable (valid, pointing at files
that exist).
"""

import argparse
import configparser
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


class Tap:
    def __init__(self):
        self.index = 0
        self.failed = False

    def result(self, ok, name, details=()):
        self.index += 1
        print(f"{'ok' if ok else 'not ok'} {self.index} - {name}", flush=True)
        if not ok:
            self.failed = True
            for line in details:
                print(f"# {line}")

    def skip(self, name, reason):
        self.index += 1
        print(f"ok {self.index} - {name} # SKIP {reason}", flush=True)


def rel(path, prefix):
    """An install dir relative to the prefix (meson gives them either way)."""
    return os.path.relpath(os.path.join(prefix, path), prefix)


def read_linguas(path):
    languages = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0]
            languages.extend(line.split())
    return languages


def main():
    parser = argparse.ArgumentParser()
    for option in ("meson", "builddir", "prefix", "bindir", "datadir", "mandir",
                   "localedir", "app-id", "schema-id", "linguas"):
        parser.add_argument("--" + option, required=True)
    parser.add_argument("--with-app", action="store_true")
    args = parser.parse_args()

    prefix = args.prefix
    bindir = rel(args.bindir, prefix)
    datadir = rel(args.datadir, prefix)
    mandir = rel(args.mandir, prefix)
    localedir = rel(args.localedir, prefix)
    app_id = args.app_id
    languages = read_linguas(args.linguas)

    programs = ["tincan-cli", "tincan-server"]
    if args.with_app:
        programs.insert(0, "tincan")

    expected = [os.path.join(bindir, p) for p in programs]
    expected += [os.path.join(mandir, "man1", p + ".1") for p in programs]
    if args.with_app:
        expected += [
            os.path.join(datadir, "applications", app_id + ".desktop"),
            os.path.join(datadir, "metainfo", app_id + ".metainfo.xml"),
            os.path.join(datadir, "icons", "hicolor", "scalable", "apps", app_id + ".svg"),
            os.path.join(datadir, "icons", "hicolor", "symbolic", "apps", app_id + "-symbolic.svg"),
            os.path.join(datadir, "glib-2.0", "schemas", args.schema_id + ".gschema.xml"),
            os.path.join(datadir, "dbus-1", "services", app_id + ".service"),
        ]
    expected += [os.path.join(localedir, lang, "LC_MESSAGES", "tincan.mo") for lang in languages]

    tap = Tap()
    print("1..9", flush=True)

    with tempfile.TemporaryDirectory(prefix="tincan-install-") as destdir:
        # --no-rebuild: `meson test` already built everything, and a
        # rebuild from inside a test would fight over the ninja lock.
        result = subprocess.run(
            [args.meson, "install", "-C", args.builddir, "--no-rebuild",
             "--destdir", destdir, "--quiet"],
            capture_output=True, text=True, check=False)
        tap.result(result.returncode == 0, "meson install into a DESTDIR succeeds",
                   (result.stdout + result.stderr).splitlines()[-30:])
        if result.returncode != 0:
            return 1

        root = os.path.join(destdir, prefix.lstrip("/"))
        installed = set()
        for dirpath, _dirnames, filenames in os.walk(destdir):
            for filename in filenames:
                installed.add(os.path.relpath(os.path.join(dirpath, filename), root))

        missing = [path for path in expected if path not in installed]
        tap.result(not missing,
                   f"the {len(expected)} files a Flatpak build needs are installed "
                   f"({len(languages)} translations)",
                   [f"missing: {prefix}/{path}" for path in missing] +
                   [f"installed: {prefix}/{path}" for path in sorted(installed)])

        not_exec = [p for p in programs
                    if not os.access(os.path.join(root, bindir, p), os.X_OK)]
        tap.result(not not_exec, "the programs are executable",
                   [f"not executable: {p}" for p in not_exec])

        empty = [path for path in expected
                 if path in installed and os.path.getsize(os.path.join(root, path)) == 0]
        tap.result(not empty, "no installed file is empty", [f"empty: {p}" for p in empty])

        if not args.with_app:
            for name in ("desktop file", "D-Bus service", "metainfo", "schema", "icons"):
                tap.skip(f"installed {name} is usable", "application not built")
            return 1 if tap.failed else 0

        # The desktop file: valid, and pointing at a program and icon that exist.
        desktop = os.path.join(root, datadir, "applications", app_id + ".desktop")
        problems = []
        validate = shutil.which("desktop-file-validate")
        if validate is not None and os.path.exists(desktop):
            check = subprocess.run([validate, desktop], capture_output=True, text=True,
                                   check=False)
            if check.returncode != 0:
                problems += (check.stdout + check.stderr).splitlines()
        entry = configparser.ConfigParser(interpolation=None, strict=False)
        entry.optionxform = str
        if os.path.exists(desktop):
            entry.read(desktop, encoding="utf-8")
        section = entry["Desktop Entry"] if entry.has_section("Desktop Entry") else {}
        exec_program = section.get("Exec", "").split(" ", 1)[0]
        if exec_program not in programs:
            problems.append(f"Exec runs {exec_program!r}, not an installed program")
        if section.get("Icon") != app_id:
            problems.append(f"Icon is {section.get('Icon')!r}, not {app_id}")
        tap.result(not problems, "installed desktop file is valid and names the program and icon",
                   problems)

        # The D-Bus service activates the installed program under the app id.
        service = os.path.join(root, datadir, "dbus-1", "services", app_id + ".service")
        problems = []
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        if os.path.exists(service):
            unit.read(service, encoding="utf-8")
        section = unit["D-BUS Service"] if unit.has_section("D-BUS Service") else {}
        if section.get("Name") != app_id:
            problems.append(f"Name is {section.get('Name')!r}, not {app_id}")
        service_exec = section.get("Exec", "").split(" ", 1)[0]
        if service_exec != os.path.join(prefix, bindir, "tincan"):
            problems.append(f"Exec is {service_exec!r}, not {os.path.join(prefix, bindir, 'tincan')}")
        tap.result(not problems, "installed D-Bus service starts the installed tincan", problems)

        # The metainfo names this app id, its desktop file and the programs.
        metainfo = os.path.join(root, datadir, "metainfo", app_id + ".metainfo.xml")
        problems = []
        try:
            component = ET.parse(metainfo).getroot()
            if component.findtext("id") != app_id:
                problems.append(f"id is {component.findtext('id')!r}")
            if component.findtext("launchable") != app_id + ".desktop":
                problems.append(f"launchable is {component.findtext('launchable')!r}")
            binaries = sorted(b.text for b in component.iter("binary"))
            if binaries != sorted(programs):
                problems.append(f"provides {binaries}, installed {sorted(programs)}")
        except (ET.ParseError, OSError) as error:
            problems.append(str(error))
        tap.result(not problems, "installed metainfo names the app, its launcher and programs",
                   problems)

        # The schema compiles where it was installed.
        compiler = shutil.which("glib-compile-schemas")
        if compiler is None:
            tap.skip("installed schema compiles", "glib-compile-schemas not installed")
        else:
            check = subprocess.run(
                [compiler, "--strict", "--dry-run",
                 os.path.join(root, datadir, "glib-2.0", "schemas")],
                capture_output=True, text=True, check=False)
            tap.result(check.returncode == 0 and not check.stderr.strip(),
                       "installed schema compiles with --strict",
                       (check.stdout + check.stderr).splitlines())

        # Icons are SVG documents.
        problems = []
        for path in expected:
            if path.endswith(".svg") and path in installed:
                try:
                    tag = ET.parse(os.path.join(root, path)).getroot().tag
                    if not tag.endswith("svg"):
                        problems.append(f"{path}: root element {tag}")
                except ET.ParseError as error:
                    problems.append(f"{path}: {error}")
        tap.result(not problems, "installed icons are SVG documents", problems)

    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
