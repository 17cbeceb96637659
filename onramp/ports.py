"""Local TCP ports: a free one, whether one is free, and who holds a taken one.

A runner killed with SIGKILL cannot stop its children: its embedded broker and services keep
their ports. ``who_holds`` names such leftovers so the next run can say what to stop; nothing
here stops anything. Holders are read from /proc (Linux); elsewhere the text points at ``lsof``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_TCP_LISTEN = "0A"  # the st column of /proc/net/tcp
_PROC = Path("/proc")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests that need a broker of their own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now (connections in TIME_WAIT don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class _ProcessInfo:
    pid: int
    ppid: int
    argv: tuple[str, ...]

    @property
    def onramp_part(self) -> str | None:
        """What this process is in an Onramp stack ("runner", "embedded broker", ...), or None."""
        args = self.argv
        if any(a.endswith(("onramp.devstack", "onramp-dev")) for a in args[:3]):
            return "runner"
        if args and Path(args[0]).name.startswith("tansu") and "broker" in args:
            return "embedded broker"
        module = args[args.index("-m") + 1] if "-m" in args[:-1] else ""
        if module.startswith("services."):
            return f"{module.removeprefix('services.')} service"
        return None

    @property
    def command(self) -> str:
        text = " ".join(self.argv)
        return text if len(text) <= 80 else text[:77] + "..."


def who_holds(port: int) -> str:
    """Who listens on TCP ``port``, in words, with how to stop it when it is Onramp's own."""
    inodes = _listening_inodes(port)
    if not inodes:  # no /proc, or a socket bound without listening
        return f"another process (`lsof -nP -iTCP:{port}` names it)"
    holders = _holders(inodes)
    if not holders:
        return f"a process this user cannot inspect (`sudo ss -ltnp 'sport = :{port}'` names it)"
    return "; ".join(_describe(holder) for holder in holders)


def _describe(holder: _ProcessInfo) -> str:
    part = holder.onramp_part
    if part is None:
        return f"pid {holder.pid} (`{holder.command}`), which Onramp did not start"
    parent = _process(holder.ppid)
    if parent is not None and parent.onramp_part == "runner":
        return (
            f"pid {holder.pid}, {part} of the Onramp runner pid {parent.pid}, which is still "
            f"running: stop that runner (Ctrl-C in its terminal, or `kill {parent.pid}`)"
        )
    if holder.ppid <= 1 or parent is None:
        origin = "left running by an Onramp runner that was killed (SIGKILL?) before stopping it"
    else:
        origin = f"started by pid {parent.pid} (`{parent.command}`)"
    return f"pid {holder.pid}, {part} {origin}; stop it with `kill {holder.pid}`"


def _holders(inodes: set[str]) -> list[_ProcessInfo]:
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and _holds_socket(entry, inodes):
            process = _process(int(entry.name))
            if process is not None:
                found.append(process)
    return found


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (any address); none without /proc."""
    inodes: set[str] = set()
    for table in (_PROC / "net" / "tcp", _PROC / "net" / "tcp6"):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def _holds_socket(proc_dir: Path, inodes: set[str]) -> bool:
    try:
        fds = list((proc_dir / "fd").iterdir())
    except OSError:  # another user's process, or gone
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[len("socket:[") : -1] in inodes:
            return True
    return False


def _process(pid: int) -> _ProcessInfo | None:
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    ppid = int(stat.rsplit(")", 1)[1].split()[1])
    return _ProcessInfo(pid, ppid, tuple(arg.decode(errors="replace") for arg in argv))
