#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak test: three tincan-cli clients chat through tincan-server while the
server and one client are SIGKILLed and restarted at random.

    soak.py [--server BIN] [--cli BIN] [--rate 200] [--seed N] DURATION

At the end every message queued by any client must be delivered exactly once
to every client, in seq order; the long-lived clients' memory must grow less
than 10 % after warm-up and their file descriptors must not grow. Prints a
summary; exits 0 on success, 1 on failure, 77 if the binaries are missing.
"""

import argparse
import collections
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

N_CLIENTS = 3
KILLED_CLIENT = 2          # the one that is SIGKILLed and restarted
ROOM = 'lobby'
PREFIX = 'soak'


def log(*args):
    print('#', *args, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


class Server:
    def __init__(self, binary, port, db, workdir, history):
        self.binary = binary
        self.port = port
        self.db = db
        self.workdir = workdir
        self.history = history
        self.proc = None
        self.instances = 0
        self.kills = 0
        self.samples = []          # (instance, started, uptime, rss, fds)
        self.t0 = time.monotonic()
        self.started_at = 0.0
        self.lock = threading.Lock()

    def start(self):
        deadline = time.monotonic() + 20
        while True:
            err = open(os.path.join(self.workdir, 'server-%d.err' % self.instances), 'w')
            proc = subprocess.Popen(
                [self.binary, '--port', str(self.port), '--db', self.db,
                 '--history', str(self.history)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                text=True)
            err.close()
            line = proc.stdout.readline()
            if line.startswith('listening on'):
                break
            proc.wait()
            # The port may linger for a moment after a kill: try again.
            if time.monotonic() > deadline:
                raise RuntimeError('tincan-server did not start on port %d' % self.port)
            time.sleep(0.1)
        with self.lock:
            self.proc = proc
            self.instances += 1
            self.started_at = time.monotonic()

    def kill(self):
        with self.lock:
            proc = self.proc
            self.proc = None
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        self.kills += 1

    def stop(self):
        with self.lock:
            proc = self.proc
            self.proc = None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def sample(self):
        with self.lock:
            proc = self.proc
            instance = self.instances
            uptime = time.monotonic() - self.started_at
            started = self.started_at - self.t0
        if proc is None:
            return
        rss = rss_kib(proc.pid)
        fds = fd_count(proc.pid)
        if rss is not None and fds is not None:
            self.samples.append((instance, started, uptime, rss, fds))


class Run:
    """One process of one client."""

    def __init__(self, index):
        self.index = index
        self.fed = []              # lines written to its stdin, in order
        self.new_queued = []       # cids first queued in this run, in order
        self.messages = []         # (seq, cid, text, sender) in arrival order
        self.delivered = []        # (seq, cid)
        self.states = collections.Counter()
        self.errors = []
        self.exit_code = None


class Client:
    def __init__(self, index, binary, url, workdir, drain_timeout):
        self.index = index
        self.binary = binary
        self.url = url
        self.user = '%s%d' % (PREFIX, index)
        self.data_dir = os.path.join(workdir, 'client-%d' % index)
        self.workdir = workdir
        self.drain_timeout = drain_timeout
        os.makedirs(self.data_dir)
        self.lock = threading.Condition()
        self.backlog = collections.deque()   # generated, not yet written
        self.generated = []                  # every line generated for it
        self.queued = set()                  # cids queued, over all runs
        self.cid_order = []
        self.runs = []
        self.proc = None
        self.run = None
        self.closing = False
        self.samples = []                    # (time, rss, fds)
        self.refed = 0

    def start(self):
        run = Run(len(self.runs))
        err = open(os.path.join(self.workdir, 'client-%d-run-%d.err' % (self.index, run.index)), 'w')
        proc = subprocess.Popen(
            [self.binary, '--data-dir', self.data_dir, '--user', self.user,
             '--room', ROOM, '--drain-timeout', str(self.drain_timeout), self.url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            bufsize=0)
        err.close()
        with self.lock:
            self.runs.append(run)
            self.run = run
            self.proc = proc
        self.reader = threading.Thread(target=self._read, args=(proc, run), daemon=True)
        self.reader.start()
        threading.Thread(target=self._feed, args=(proc, run), daemon=True).start()

    def _read(self, proc, run):
        out = open(os.path.join(self.workdir, 'client-%d-run-%d.jsonl' % (self.index, run.index)), 'wb')
        for raw in proc.stdout:
            out.write(raw)
            try:
                event = json.loads(raw)
            except ValueError:
                run.errors.append('not JSON: %r' % raw[:80])
                continue
            kind = event.get('event')
            with self.lock:
                if kind == 'queued':
                    cid = event['cid']
                    if cid not in self.queued:
                        self.queued.add(cid)
                        self.cid_order.append(cid)
                        run.new_queued.append(cid)
                elif kind == 'message':
                    run.messages.append((event['seq'], event['cid'], event['text'], event['from']))
                elif kind == 'delivered':
                    run.delivered.append((event['seq'], event['cid']))
                elif kind == 'state':
                    run.states[event['state']] += 1
                elif kind == 'error':
                    run.errors.append(event.get('message'))
                self.lock.notify_all()
        out.close()

    def _feed(self, proc, run):
        while True:
            with self.lock:
                while not self.backlog and not self.closing and self.proc is proc:
                    self.lock.wait(0.5)
                if self.proc is not proc:
                    return
                if not self.backlog:
                    if self.closing:
                        break
                    continue
                lines = list(self.backlog)
                self.backlog.clear()
                run.fed.extend(lines)
            try:
                proc.stdin.write(''.join(l + '\n' for l in lines).encode())
            except (BrokenPipeError, ValueError, OSError):
                return
        try:
            proc.stdin.close()
        except OSError:
            pass

    def add_line(self, line):
        with self.lock:
            self.generated.append(line)
            self.backlog.append(line)
            self.lock.notify_all()

    def kill_and_restart(self):
        with self.lock:
            proc = self.proc
            run = self.run
            self.proc = None
            self.lock.notify_all()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run.exit_code = proc.returncode
        # The reader drains what the process printed before it died.
        self.reader.join(10)
        with self.lock:
            # The queued lines are in its outbox; the rest are fed again.
            unqueued = run.fed[len(run.new_queued):]
            self.refed += len(unqueued)
            self.backlog.extendleft(reversed(unqueued))
        try:
            proc.stdin.close()
        except OSError:
            pass
        self.start()

    def close_input(self):
        with self.lock:
            self.closing = True
            self.lock.notify_all()

    def wait_exit(self, timeout):
        proc = self.proc
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.run.exit_code = proc.returncode
        return proc.returncode

    def sample(self, now):
        proc = self.proc
        if proc is None:
            return
        rss = rss_kib(proc.pid)
        fds = fd_count(proc.pid)
        if rss is not None and fds is not None:
            self.samples.append((now, rss, fds))

    def received_cids(self):
        """cid -> count over the current run, own messages included."""
        with self.lock:
            counts = collections.Counter()
            for run in self.runs:
                for _seq, cid, _text, _sender in run.messages:
                    counts[cid] += 1
                for _seq, cid in run.delivered:
                    counts[cid] += 1
            return counts


def median(values):
    values = sorted(values)
    if not values:
        return 0
    return values[len(values) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('duration', type=float, help='seconds of chatting')
    parser.add_argument('--server', default=os.environ.get('TINCAN_SERVER_BIN'))
    parser.add_argument('--cli', default=os.environ.get('TINCAN_CLI_BIN'))
    parser.add_argument('--rate', type=float, default=200.0, help='messages per second in total')
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument('--drain', type=float, default=120.0, help='seconds allowed to drain')
    parser.add_argument('--warmup-messages', type=int, default=20000,
                        help='messages sent first, faster, to fill the bounded caches '
                             '(the server keeps 20000 cids, SQLite 2 MB of pages)')
    parser.add_argument('--warmup-rate', type=float, default=1000.0)
    args = parser.parse_args()

    for name, path in (('server', args.server), ('cli', args.cli)):
        if not path or not os.access(path, os.X_OK):
            print('1..0 # SKIP no tincan-%s binary' % name)
            return 77

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    duration = args.duration
    window = max(5.0, min(30.0, duration * 0.1))
    # History kept by the server: enough to resume a client that was away.
    history = int(max(3000, args.rate * 30))

    workdir = tempfile.mkdtemp(prefix='tincan-soak-')
    log('seed %d, warm-up %d messages at %.0f msg/s, then %.0f s at %.0f msg/s, work dir %s'
        % (seed, args.warmup_messages, args.warmup_rate, duration, args.rate, workdir))

    port = free_port()
    url = 'ws://127.0.0.1:%d/ws' % port
    server = Server(args.server, port, os.path.join(workdir, 'server.sqlite'), workdir, history)
    server.start()

    clients = [Client(i, args.cli, url, workdir, int(args.drain)) for i in range(N_CLIENTS)]
    for client in clients:
        client.start()

    stop = threading.Event()
    client_kills = [0]
    start_time = time.monotonic()
    server.t0 = start_time

    warm_end = [None]
    warmed = threading.Event()

    def generator():
        n = 0
        next_at = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            while next_at <= now and not stop.is_set():
                client = clients[n % N_CLIENTS]
                client.add_line('%s c%d #%06d %s' % (PREFIX, client.index, n, 'x' * (n % 40)))
                n += 1
                if n < args.warmup_messages:
                    next_at += 1.0 / args.warmup_rate
                else:
                    if n == args.warmup_messages or args.warmup_messages <= 0 and warm_end[0] is None:
                        warm_end[0] = time.monotonic() - start_time
                        warmed.set()
                    next_at += 1.0 / args.rate
            time.sleep(max(0.0, min(0.01, next_at - time.monotonic())))

    def server_chaos():
        while not stop.wait(rng.uniform(5, 20)):
            server.kill()
            if stop.wait(rng.uniform(0, 0.5)):
                server.start()
                return
            server.start()

    def client_chaos():
        while not stop.wait(rng.uniform(6, 15)):
            clients[KILLED_CLIENT].kill_and_restart()
            client_kills[0] += 1

    def sampler():
        while not stop.wait(1.0):
            now = time.monotonic() - start_time
            server.sample()
            for client in clients:
                client.sample(now)

    threads = [threading.Thread(target=f, daemon=True)
               for f in (generator, server_chaos, client_chaos, sampler)]
    for thread in threads:
        thread.start()

    while not warmed.wait(1.0):
        pass
    log('warm-up: %d messages in %.0f s' % (args.warmup_messages, warm_end[0]))
    # Measured from a few seconds after the warm-up, once the backlog drained.
    warmup = warm_end[0] + 5.0
    end_time = warm_end[0] + duration
    while time.monotonic() - start_time < end_time:
        time.sleep(1)
        elapsed = time.monotonic() - start_time
        if int(elapsed) % 30 == 0:
            log('%3.0f s: generated %d, server kills %d, client kills %d' % (
                elapsed, sum(len(c.generated) for c in clients), server.kills, client_kills[0]))
    stop.set()
    for thread in threads:
        thread.join()
    # The chaos thread may have left the server down: bring it back.
    if server.proc is None:
        server.start()
    log('stopped sending after %.0f s; draining' % (time.monotonic() - start_time))

    # Drain: every generated line queued, and every queued message received
    # by every client.
    drain_deadline = time.monotonic() + args.drain
    failures = []

    def all_queued():
        for client in clients:
            with client.lock:
                if client.backlog or len(client.run.new_queued) < len(client.run.fed):
                    return False
        return True

    while not all_queued() and time.monotonic() < drain_deadline:
        time.sleep(0.2)
    expected = set()
    for client in clients:
        with client.lock:
            expected |= client.queued
    while time.monotonic() < drain_deadline:
        if all(expected <= set(c.received_cids()) for c in clients):
            break
        time.sleep(0.2)
    drain_time = time.monotonic() - start_time - end_time

    for client in clients:
        client.close_input()
    exit_codes = [client.wait_exit(max(5.0, drain_deadline - time.monotonic()) + 5) for client in clients]
    server.stop()

    # --- Checks -----------------------------------------------------------
    # Every cid with the seq the server gave it: one seq per cid, one cid per seq.
    seq_of = {}
    cid_of_seq = {}
    text_of = {}
    conflicts = 0
    for client in clients:
        for run in client.runs:
            for seq, cid, text, _sender in run.messages:
                text_of[cid] = text
                for table, key, value in ((seq_of, cid, seq), (cid_of_seq, seq, cid)):
                    if table.setdefault(key, value) != value:
                        conflicts += 1
            for seq, cid in run.delivered:
                for table, key, value in ((seq_of, cid, seq), (cid_of_seq, seq, cid)):
                    if table.setdefault(key, value) != value:
                        conflicts += 1
    if conflicts:
        failures.append('%d seq/cid conflicts between clients' % conflicts)

    # Every generated line must be queued (and delivered) at least once.
    # (Own messages carry no text in "delivered"; the others print it.)
    all_texts = collections.Counter(text_of.values())
    generated = [line for client in clients for line in client.generated]
    missing_lines = [line for line in generated if all_texts[line] == 0]
    refed_twice = sum(1 for line in generated if all_texts[line] > 1)

    lost = 0
    duplicated = 0
    out_of_order = 0
    redelivered_after_kill = 0
    checked = 0
    for client in clients:
        seen = collections.Counter()
        for run in client.runs:
            run_seen = collections.Counter()
            last_seq = 0
            events = [(s, c) for s, c, _t, _f in run.messages]
            for seq, cid in events:
                if seq <= last_seq:
                    out_of_order += 1
                last_seq = max(last_seq, seq)
            for seq, cid in events + list(run.delivered):
                run_seen[cid] += 1
            duplicated += sum(n - 1 for n in run_seen.values() if n > 1)
            for cid in run_seen:
                if seen[cid]:
                    # Printed before a SIGKILL, not yet stored: the
                    # restarted process resumes and prints it again.
                    redelivered_after_kill += 1
                seen[cid] += 1
        for cid in expected:
            checked += 1
            if seen[cid] == 0:
                lost += 1
    # Every seq from 1 to the last one: no gap hidden anywhere.
    if cid_of_seq:
        top = max(cid_of_seq)
        gaps = [s for s in range(1, top + 1) if s not in cid_of_seq]
        if gaps:
            failures.append('%d seqs never seen by any client (first %d)' % (len(gaps), gaps[0]))
    if lost:
        failures.append('lost: %d (client, message) pairs' % lost)
    if duplicated:
        failures.append('duplicated: %d' % duplicated)
    if out_of_order:
        failures.append('out of seq order: %d' % out_of_order)
    if missing_lines:
        failures.append('%d generated lines never delivered (first: %s)' % (len(missing_lines), missing_lines[0]))
    if redelivered_after_kill > client_kills[0] * 3 * args.rate:
        failures.append('too many re-deliveries after kills: %d' % redelivered_after_kill)
    for client, code in zip(clients, exit_codes):
        if code != 0:
            failures.append('client %d exited with %s' % (client.index, code))

    # Memory and descriptors of the long-lived clients after warm-up.
    # Under AddressSanitizer freed memory waits in a quarantine of up to
    # 256 MB: RSS grows by design, so it is reported, not judged.
    memory_lines = []
    sanitized = 'ASAN_OPTIONS' in os.environ
    if sanitized:
        memory_lines.append('AddressSanitizer build: memory growth not judged (quarantine)')
    for client in clients:
        if client.index == KILLED_CLIENT:
            continue
        early = [s for s in client.samples if warmup <= s[0] < warmup + window]
        late = [s for s in client.samples if end_time - window <= s[0] <= end_time]
        if not early or not late:
            failures.append('client %d: no memory samples' % client.index)
            continue
        rss0 = median([s[1] for s in early])
        rss1 = median([s[1] for s in late])
        growth = (rss1 - rss0) * 100.0 / rss0
        fd0 = max(s[2] for s in early)
        fd1 = max(s[2] for s in late)
        memory_lines.append('client %d: RSS %d -> %d KiB (%+.1f %%), fds %d -> %d'
                            % (client.index, rss0, rss1, growth, fd0, fd1))
        if growth >= 10.0 and not sanitized:
            failures.append('client %d memory grew %.1f %%' % (client.index, growth))
        if fd1 > fd0:
            failures.append('client %d fds grew %d -> %d' % (client.index, fd0, fd1))

    # The server is restarted every few seconds: compare the instances
    # started after the warm-up at the same uptime (4 s), first and last.
    by_instance = collections.defaultdict(list)
    for instance, started, uptime, rss, fds in server.samples:
        if started >= warmup:
            by_instance[instance].append((uptime, rss, fds))
    at_uptime = []
    for instance in sorted(by_instance):
        samples = [s for s in by_instance[instance] if s[0] >= 4.0]
        if samples:
            at_uptime.append((instance, samples[0][1], max(s[2] for s in samples)))
    if len(at_uptime) >= 2:
        first = at_uptime[0]
        last = at_uptime[-1]
        growth = (last[1] - first[1]) * 100.0 / first[1]
        peak = max(s[1] for s in at_uptime)
        memory_lines.append('server: RSS at 4 s uptime %d -> %d KiB (%+.1f %%, peak %d) over %d instances '
                            'started after warm-up, fds %d -> %d'
                            % (first[1], last[1], growth, peak, len(at_uptime), first[2], last[2]))
        if growth >= 10.0 and not sanitized:
            failures.append('server memory grew %.1f %%' % growth)
        if last[2] > first[2]:
            failures.append('server fds grew %d -> %d' % (first[2], last[2]))
    else:
        memory_lines.append('server: fewer than 2 instances after warm-up lived 4 s; not compared')

    with open(os.path.join(workdir, 'samples.tsv'), 'w') as f:
        for client in clients:
            for t, rss, fds in client.samples:
                f.write('client%d\t%.0f\t%d\t%d\n' % (client.index, t, rss, fds))
        for instance, started, uptime, rss, fds in server.samples:
            f.write('server%d\t%.0f\t%.0f\t%d\t%d\n' % (instance, started, uptime, rss, fds))

    total_messages = len(expected)
    print('# ---- soak summary ----')
    print('# warm-up %d messages in %.0f s, then %.0f s at %.0f msg/s (+ %.1f s drain), seed %d'
          % (args.warmup_messages, warm_end[0], duration, args.rate, drain_time, seed))
    print('# faults injected: %d server SIGKILLs, %d client SIGKILLs (%d server starts)'
          % (server.kills, client_kills[0], server.instances))
    print('# messages: %d generated lines, %d queued messages, %d (client, message) pairs checked'
          % (len(generated), total_messages, checked))
    print('# lost = %d, duplicated = %d, out of order = %d' % (lost, duplicated, out_of_order))
    print('# lines re-fed after a client kill: %d (delivered twice under two cids: %d); '
          're-received across a kill (printed, not yet stored): %d'
          % (sum(c.refed for c in clients), refed_twice, redelivered_after_kill))
    for line in memory_lines:
        print('# ' + line)
    for failure in failures:
        print('# FAIL: ' + failure)
    print('1..1')
    if failures:
        print('not ok 1 - soak (%s), work dir kept: %s' % (failures[0], workdir))
        return 1
    print('ok 1 - soak: %d messages, lost 0, duplicated 0' % total_messages)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
