# SPDX-License-Identifier: GPL-3.0-or-later
"""Walks the running Tincan over AT-SPI, as a screen reader sees it.

Usage (inside a private session bus, under an X display):
  dbus-run-session -- /usr/bin/python3 atspi-walk.py TINCAN_BIN SCHEMA_DIR
Prints TAP.

Starts the accessibility bus, then `tincan --local --user alice
--data-dir TMP` (its lobby opens), sends a message through the composer
and the Send button the way an assistive technology would (EditableText
and Action interfaces), opens the frame inspector, the preferences and the Add Server dialog,
and checks:
- every push button, toggle button, text field, spin button, check box
  and combo box in the window has a non-empty accessible name;
- the new message's row names its sender, time, text and delivery state;
- the window with the frame inspector open, the preferences window (from
  the main menu) and the Add Server dialog (from the sidebar) pass the
  same walk.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 30

test_number = 0
failed = False


def ok(condition, description, details=()):
    global test_number, failed
    test_number += 1
    if condition:
        print(f"ok {test_number} - {description}")
    else:
        failed = True
        print(f"not ok {test_number} - {description}")
    for line in details:
        print(f"# {line}")
    sys.stdout.flush()


def skip_all(reason):
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


def main():
    if len(sys.argv) != 3:
        print("usage: atspi-walk.py TINCAN_BIN SCHEMA_DIR", file=sys.stderr)
        return 2
    tincan_bin, schema_dir = sys.argv[1:]

    if not os.environ.get("DISPLAY"):
        skip_all("no X display (run under xvfb-run)")
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        skip_all("no session bus (run inside dbus-run-session)")
    launcher = next((path for path in ("/usr/libexec/at-spi-bus-launcher",
                                       "/usr/lib/at-spi2-core/at-spi-bus-launcher")
                     if os.access(path, os.X_OK)), None)
    if launcher is None:
        skip_all("at-spi-bus-launcher is not installed")

    try:
        import gi
        gi.require_version("Atspi", "2.0")
        from gi.repository import Gio, GLib
    except (ImportError, ValueError) as error:
        skip_all(f"no GObject introspection for AT-SPI: {error}")

    env = dict(os.environ)
    # The test environment turns the bridge off for the other UI tests.
    env.pop("NO_AT_BRIDGE", None)
    env.pop("GTK_A11Y", None)
    env.update({
        "GSETTINGS_SCHEMA_DIR": schema_dir,
        "GSETTINGS_BACKEND": "memory",
        "GDK_BACKEND": "x11",
        # No settings portal: nothing to ask it here, and it starts more services.
        "ADW_DISABLE_PORTAL": "1",
        "LANGUAGE": "C",
        "LC_ALL": "C.UTF-8",
    })
    os.environ.pop("NO_AT_BRIDGE", None)

    context = GLib.MainContext.default()

    def wait_for(condition, what, timeout=TIMEOUT_S):
        """Iterates the main loop until condition() is true, or fails."""
        deadline = time.monotonic() + timeout
        tick = GLib.timeout_add(20, lambda: True)
        try:
            while True:
                value = condition()
                if value:
                    return value
                if time.monotonic() > deadline:
                    print(f"Bail out! timed out after {timeout} s waiting for {what}")
                    sys.stdout.flush()
                    raise SystemExit(1)
                context.iteration(True)
        finally:
            GLib.source_remove(tick)

    session_bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)

    def has_owner(name):
        reply = session_bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "NameHasOwner",
                                      GLib.Variant("(s)", (name,)), GLib.VariantType("(b)"),
                                      Gio.DBusCallFlags.NONE, -1, None)
        return reply.unpack()[0]

    processes = []
    data_dir = tempfile.mkdtemp(prefix="tincan-atspi-")
    try:
        processes.append(subprocess.Popen([launcher, "--launch-immediately"], env=env,
                                          stdout=subprocess.DEVNULL))
        wait_for(lambda: has_owner("org.a11y.Bus"), "the accessibility bus")

        import pyatspi

        app_process = subprocess.Popen([tincan_bin, "--local", "--user", "alice",
                                        "--data-dir", data_dir],
                                       env=env, stdout=subprocess.DEVNULL)
        processes.append(app_process)

        desktop = pyatspi.Registry.getDesktop(0)

        def children(node):
            try:
                count = node.childCount
            except Exception:
                return []
            result = []
            for i in range(count):
                try:
                    child = node.getChildAtIndex(i)
                except Exception:
                    continue
                if child is not None:
                    result.append(child)
            return result

        def find_app():
            for app in children(desktop):
                try:
                    if app.get_process_id() == app_process.pid:
                        return app
                except Exception:
                    continue
            if app_process.poll() is not None:
                print(f"Bail out! tincan exited with status {app_process.returncode}")
                raise SystemExit(1)
            return None

        def walk(node, path=()):
            yield node, path
            for child in children(node):
                yield from walk(child, path + (node,))

        def role(node):
            try:
                return node.getRole()
            except Exception:
                return None

        def name(node):
            try:
                return node.name or ""
            except Exception:
                return ""

        def describe(node, path):
            names = [f"{n.getRoleName()}" + (f" “{name(n)}”" if name(n) else "")
                     for n in path[-4:]]
            return " > ".join(names + [node.getRoleName()])

        controls = {pyatspi.ROLE_PUSH_BUTTON, pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_TEXT,
                    pyatspi.ROLE_ENTRY, pyatspi.ROLE_PASSWORD_TEXT, pyatspi.ROLE_SPIN_BUTTON,
                    pyatspi.ROLE_CHECK_BOX, pyatspi.ROLE_RADIO_BUTTON, pyatspi.ROLE_COMBO_BOX,
                    pyatspi.ROLE_SLIDER}

        def check_named(root, what, at_least):
            checked = 0
            unnamed = []
            for node, path in walk(root):
                if role(node) in controls:
                    checked += 1
                    if not name(node).strip():
                        unnamed.append(describe(node, path))
            ok(checked >= at_least and not unnamed,
               f"{what}: every button, toggle and text field has a name ({checked} checked)",
               [f"no name: {line}" for line in unnamed] +
               ([f"expected at least {at_least} controls"] if checked < at_least else []))

        app = wait_for(find_app, "tincan on the accessibility bus")

        def main_frame():
            for node in children(app):
                if role(node) == pyatspi.ROLE_FRAME and "#lobby" in name(node):
                    return node
            return None

        frame = wait_for(main_frame, "the main window with #lobby open")

        # GTK 4.8 does not keep STATE_SHOWING up to date: match by name.
        def find(root, wanted_role, pattern):
            for node, _ in walk(root):
                if role(node) == wanted_role and re.search(pattern, name(node)):
                    return node
            return None

        composer = wait_for(lambda: find(frame, pyatspi.ROLE_TEXT, r"^Message #lobby$"),
                            "the composer")
        send = wait_for(lambda: find(frame, pyatspi.ROLE_PUSH_BUTTON, r"^Send message$"),
                        "the Send button")
        wait_for(lambda: "Connected" in " ".join(name(n) for n, _ in walk(frame)
                                                  if role(n) == pyatspi.ROLE_LABEL),
                 "the connection to the built-in server")

        check_named(frame, "main window", 8)

        # Type and send the way an assistive technology does.
        text = "hello over AT-SPI"
        composer.queryEditableText().setTextContents(text)
        action = send.queryAction()
        action.doAction(0)

        def delivered_row():
            for node, _ in walk(frame):
                label = name(node)
                if text in label and "Delivered" in label:
                    return node
            return None

        row = wait_for(delivered_row, "a delivered message row named with its text")
        label = name(row)
        ok(re.match(r"^alice, \d\d:\d\d, Delivered: hello over AT-SPI$", label) is not None,
           "the message row names sender, time, delivery state and text",
           [f"name: {label}"])

        def actionable(node):
            try:
                return node.queryAction().nActions > 0
            except NotImplementedError:
                return False

        # The frame inspector, opened from the header bar.
        inspector = next((node for node, _ in walk(frame)
                          if role(node) in (pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_PUSH_BUTTON)
                          and name(node) == "Frame inspector" and actionable(node)), None)
        if inspector is None:
            ok(False, "the Frame inspector button is found")
        else:
            inspector.queryAction().doAction(0)
            wait_for(lambda: find(frame, pyatspi.ROLE_PUSH_BUTTON, r"^Close the inspector$"),
                     "the frame inspector")
            check_named(frame, "main window with the frame inspector", 30)

        # Preferences, from the main menu.
        # A GtkMenuButton is a button around a button: the inner one acts.
        menu = next((node for node, _ in walk(frame)
                     if role(node) in (pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_PUSH_BUTTON)
                     and name(node) == "Main menu" and actionable(node)), None)
        if menu is None:
            ok(False, "the main menu button is found")
        else:
            menu.queryAction().doAction(0)

            def preferences_item():
                for node, _ in walk(app):
                    if role(node) in (pyatspi.ROLE_MENU_ITEM, pyatspi.ROLE_PUSH_BUTTON) and \
                       name(node).replace("_", "").startswith("Preferences") and actionable(node):
                        return node
                return None

            item = wait_for(preferences_item, "the Preferences menu item")
            item.queryAction().doAction(0)

            def preferences_window():
                for node in children(app):
                    if role(node) in (pyatspi.ROLE_FRAME, pyatspi.ROLE_DIALOG) and \
                       name(node) == "Preferences":
                        return node
                return None

            preferences = wait_for(preferences_window, "the preferences window")
            wait_for(lambda: find(preferences, pyatspi.ROLE_TOGGLE_BUTTON, ".") or
                     find(preferences, pyatspi.ROLE_PUSH_BUTTON, "."),
                     "the preferences window's controls")
            check_named(preferences, "preferences window", 8)


        # The server dialog, from the sidebar's Add button.
        add = next((node for node, _ in walk(frame)
                    if role(node) == pyatspi.ROLE_PUSH_BUTTON and name(node) == "Add server"
                    and actionable(node)), None)
        if add is None:
            ok(False, "the Add server button is found")
        else:
            add.queryAction().doAction(0)

            def server_dialog():
                for node in children(app):
                    if role(node) in (pyatspi.ROLE_FRAME, pyatspi.ROLE_DIALOG) and \
                       name(node) == "Add Server":
                        return node
                return None

            dialog = wait_for(server_dialog, "the Add Server dialog")
            wait_for(lambda: find(dialog, pyatspi.ROLE_PUSH_BUTTON, "."), "the dialog's controls")
            check_named(dialog, "add server dialog", 10)

        print(f"1..{test_number}")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
