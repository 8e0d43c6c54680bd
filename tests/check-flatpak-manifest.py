# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the Flatpak manifests.

Usage: /usr/bin/python3 check-flatpak-manifest.py MANIFEST APP_ID PROFILE
Prints TAP. What a Flathub reviewer looks at first: the runtime, the
command, the sandbox holes (exactly the ones Tincan needs: network, IPC,
Wayland with X11 as fallback, DRI; no file system access), the app module
(built from this tree with meson, the profile given, tests run), every
other source pinned, and that flatpak-builder parses the file without a
warning. No runtime can be downloaded here, so nothing is built.
"""

import json
import os
import shutil
import subprocess
import sys

FINISH_ARGS = [
    "--share=network",
    "--share=ipc",
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",
]


class Tap:
    def __init__(self, n):
        self.index = 0
        self.failed = False
        print(f"1..{n}", flush=True)

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


def walk_modules(modules, depth=0):
    for module in modules:
        yield module, depth
        if isinstance(module, dict):
            yield from walk_modules(module.get("modules", []), depth + 1)


def unpinned_sources(module):
    """Sources of a dependency module that could change under the build."""
    problems = []
    name = module.get("name", "?")
    for source in module.get("sources", []):
        if isinstance(source, str):
            problems.append(f"{name}: source file {source} is not checked here")
            continue
        kind = source.get("type")
        if kind in ("archive", "file"):
            if not any(source.get(key) for key in ("sha256", "sha512")):
                problems.append(f"{name}: {kind} {source.get('url', source.get('path'))} has no sha256")
        elif kind == "git":
            if not source.get("commit"):
                problems.append(f"{name}: git {source.get('url')} has no commit")
        elif kind in ("patch", "shell", "script", "inline"):
            pass
        else:
            problems.append(f"{name}: source type {kind} is not pinned")
    return problems


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2

    path, app_id, profile = sys.argv[1:]
    name = os.path.basename(path)
    tap = Tap(7)

    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        tap.result(False, f"{name} is JSON", [str(error)])
        return 1
    tap.result(True, f"{name} is JSON")

    problems = []
    if manifest.get("id", manifest.get("app-id")) != app_id:
        problems.append(f"id is {manifest.get('id')!r}, not {app_id}")
    if manifest.get("runtime") != "org.gnome.Platform":
        problems.append(f"runtime is {manifest.get('runtime')!r}")
    if manifest.get("sdk") != "org.gnome.Sdk":
        problems.append(f"sdk is {manifest.get('sdk')!r}")
    version = str(manifest.get("runtime-version", ""))
    if not version.isdigit():
        problems.append(f"runtime-version {version!r} is not a stable GNOME release")
    if manifest.get("command") != "tincan":
        problems.append(f"command is {manifest.get('command')!r}")
    tap.result(not problems, f"runtime org.gnome.Platform//{version}, command tincan", problems)

    finish_args = manifest.get("finish-args", [])
    problems = []
    if sorted(finish_args) != sorted(FINISH_ARGS):
        problems.append(f"finish-args are {finish_args}, want {FINISH_ARGS}")
    if any(arg.startswith(("--filesystem", "--socket=session-bus", "--socket=system-bus",
                           "--device=all", "--talk-name")) for arg in finish_args):
        problems.append("finish-args open the sandbox further than Tincan needs")
    tap.result(not problems, "finish-args are exactly network, ipc, wayland, fallback-x11, dri",
               problems)

    modules = manifest.get("modules", [])
    app = modules[-1] if modules and isinstance(modules[-1], dict) else {}
    problems = []
    if app.get("name") != "tincan":
        problems.append(f"the last module is {app.get('name')!r}, not tincan")
    if app.get("buildsystem") != "meson":
        problems.append(f"buildsystem is {app.get('buildsystem')!r}")
    if app.get("sources") != [{"type": "dir", "path": ".."}]:
        problems.append(f"sources are {app.get('sources')}, not this tree")
    if app.get("run-tests") is not True:
        problems.append("run-tests is not true")
    if f"-Dprofile={profile}" not in app.get("config-opts", []):
        problems.append(f"config-opts lack -Dprofile={profile}")
    source_dir = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), ".."))
    if not os.path.isfile(os.path.join(source_dir, "meson.build")):
        problems.append(f"{source_dir} is not the source tree")
    tap.result(not problems, "the app module builds this tree with meson and runs the tests",
               problems)

    problems = []
    for module, _depth in walk_modules(modules):
        if module is app:
            continue
        if isinstance(module, str):
            problems.append(f"module file {module} is not checked here")
            continue
        problems += unpinned_sources(module)
    tap.result(not problems, "every dependency module is pinned by sha256 or commit", problems)

    # The development variant must differ only where it has to.
    problems = []
    if profile == "development":
        if not app_id.endswith(".Devel"):
            problems.append(f"{app_id} does not end in .Devel")
    elif "--buildtype=debug" in app.get("config-opts", []):
        problems.append("the stable manifest builds a debug build")
    tap.result(not problems, f"the {profile} profile matches the app id", problems)

    builder = shutil.which("flatpak-builder")
    if builder is None:
        tap.skip(f"flatpak-builder --show-manifest parses {name}", "flatpak-builder not installed")
    else:
        result = subprocess.run([builder, "--show-manifest", path],
                                capture_output=True, text=True, check=False)
        warnings = [line for line in result.stderr.splitlines() if line.strip()]
        problems = list(warnings)
        if result.returncode == 0:
            try:
                shown = json.loads(result.stdout)
                if shown.get("finish-args", []) != finish_args:
                    problems.append("flatpak-builder read different finish-args")
            except ValueError as error:
                problems.append(f"unreadable --show-manifest output: {error}")
        tap.result(result.returncode == 0 and not problems,
                   f"flatpak-builder --show-manifest parses {name} without a warning",
                   problems)

    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
