"""Receive filters in the kernel for python-can's ``udp_multicast`` buses.

On SocketCAN a node's receive filters run in the kernel: frames it does not want never wake
its process. ``udp_multicast`` filters in Python, after every datagram has woken the process,
been read and unpacked into a ``can.Message``: a slave in a 16-module virtual pack did that
for about 1,100 frames a second to keep a few dozen. This module gives such a socket a
classic BPF program (``SO_ATTACH_FILTER``) that reads the arbitration id out of python-can's
msgpack datagram and drops the frames with an id outside the wanted set.

The program never drops what python-can's own filter would keep: it passes every datagram
that does not have the layout it expects (so a change of python-can's format costs the
saving, not frames; only a datagram too short to hold an id is dropped, which python-can
could not have read either), and it passes extended frames whose id is in the set
(python-can's filter, still applied, tells them apart). Where the id sits is read from
python-can's own ``pack_message`` at start, not written here.

What the kernel drops is counted where the kernel counts a socket's drops (``netstat -su``
InErrors, the drops column of /proc/net/udp): about a thousand a second for each slave of a
virtual pack, by design, not a receive buffer overflowing. A datagram python-can could not
read no longer reaches the port's ``rx_errors`` when its id is not wanted.
"""

from __future__ import annotations

import array
import functools
import socket
import struct
import sys
from collections.abc import Set
from typing import Final

import can

SO_ATTACH_FILTER: Final = getattr(socket, "SO_ATTACH_FILTER", 26)  # Linux's numbers
SO_DETACH_FILTER: Final = getattr(socket, "SO_DETACH_FILTER", 27)
UDP_HEADER_BYTES: Final = 8  # a UDP socket's filter sees the datagram from its UDP header
ID_KEY: Final = b"\xaearbitration_id"  # msgpack: a 14-character string, then the id
# classic BPF jumps forward by at most 255 instructions: every id compare jumps to the end
MAX_IDS: Final = 250

# classic BPF opcodes (linux/filter.h)
_LD_ABS: Final = {4: 0x20, 2: 0x28, 1: 0x30}  # BPF_LD | BPF_W / BPF_H / BPF_B | BPF_ABS
_JA: Final = 0x05
_JEQ_K: Final = 0x15
_JGT_K: Final = 0x25
_RET_K: Final = 0x06
_KEEP: Final = 0xFFFF_FFFF  # the whole datagram
_DROP: Final = 0
# msgpack encodings of a non-negative int: positive fixint (< 0x80), uint8, uint16; anything
# longer (uint32 and up) is an id above 0xFFFF, never a standard 11-bit one
_FIXINT_MAX: Final = 0x7F
_UINT8: Final = 0xCC
_UINT16: Final = 0xCD

Instruction = tuple[int, int, int, int]  # code, jump if true, jump if false, k


@functools.cache
def id_offset() -> int | None:
    """Where python-can's datagram holds the arbitration id, counted from the UDP header;
    None when its layout is not the expected one (no kernel filter then)."""
    # imported here: processes on other interfaces need neither it nor msgpack
    from can.interfaces.udp_multicast.utils import pack_message

    probe = pack_message(can.Message(timestamp=1.5, arbitration_id=0x7F))
    at = probe.find(ID_KEY)
    if at < 0 or probe[at + len(ID_KEY)] != 0x7F:
        return None
    return UDP_HEADER_BYTES + at + len(ID_KEY)


def program(ids: Set[int], offset: int) -> list[Instruction]:
    """The filter: keep a datagram whose standard id is in ``ids`` (or whose layout is not
    the expected one), drop the rest."""
    if not 0 < len(ids) <= MAX_IDS:
        raise ValueError(f"a kernel filter takes 1 to {MAX_IDS} ids, not {len(ids)}")
    code: list[Instruction] = []
    # 1. the key before the id, where the probe found it: on a mismatch keep the datagram
    key_at = offset - len(ID_KEY)
    checks = []
    done = 0
    while done < len(ID_KEY):
        size = next(n for n in (4, 2, 1) if len(ID_KEY) - done >= n)
        checks.append((size, key_at + done, int.from_bytes(ID_KEY[done:done + size], "big")))
        done += size
    for index, (size, at, value) in enumerate(checks):
        past_the_rest = 2 * (len(checks) - index - 1) + 1  # later checks and the jump
        code += [(_LD_ABS[size], 0, 0, at), (_JEQ_K, 0, past_the_rest, value)]
    code += [(_JA, 0, 0, 1), (_RET_K, 0, 0, _KEEP)]
    # 2. the id into the accumulator: fixint, uint8 or uint16; longer ones are dropped
    code += [
        (_LD_ABS[1], 0, 0, offset),
        (_JGT_K, 0, 6, _FIXINT_MAX),  # a fixint is the id itself: on to the compares
        (_JEQ_K, 0, 2, _UINT8),
        (_LD_ABS[1], 0, 0, offset + 1),
        (_JA, 0, 0, 3),
        (_JEQ_K, 1, 0, _UINT16),
        (_RET_K, 0, 0, _DROP),
        (_LD_ABS[2], 0, 0, offset + 1),
    ]
    # 3. the wanted ids, each jumping to the final keep
    wanted = sorted(ids)
    code += [(_JEQ_K, len(wanted) - i, 0, value) for i, value in enumerate(wanted)]
    code += [(_RET_K, 0, 0, _DROP), (_RET_K, 0, 0, _KEEP)]
    return code


def attach(fd: int, code: list[Instruction]) -> None:
    """Give socket ``fd`` the filter (replacing any); OSError when the kernel refuses it."""
    # struct sock_filter {u16 code; u8 jt; u8 jf; u32 k} each, in a buffer whose address
    # goes into struct sock_fprog {unsigned short len; struct sock_filter *filter}; the kernel
    # copies the instructions (an array rather than ctypes: half a megabyte less per process)
    instructions = array.array("B", b"".join(struct.pack("=HBBI", *i) for i in code))
    address, _ = instructions.buffer_info()
    fprog = struct.pack("HP", len(code), address)
    with socket.socket(fileno=fd) as sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        finally:
            sock.detach()  # the bus owns the descriptor


def detach(fd: int) -> None:
    """Remove the socket's filter, if it has one (and can be reached)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return  # not a socket (any more): nothing to remove
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    except OSError:
        pass  # ENOENT: there was none
    finally:
        sock.detach()  # the bus owns the descriptor


def apply(fd: int, ids: Set[int] | None) -> bool:
    """Filter socket ``fd`` in the kernel for ``ids`` (None: no filter); True when a kernel
    filter is in place. Without one (too many ids, an unknown layout, a kernel that refuses)
    python-can's filter in the process does the same work, only later."""
    if sys.platform != "linux":
        return False  # socket filters (and the option numbers above) are Linux's
    offset = id_offset()
    if ids is None or offset is None or not 0 < len(ids) <= MAX_IDS:
        detach(fd)
        return False
    try:
        attach(fd, program(ids, offset))
    except OSError:
        detach(fd)
        return False
    return True
