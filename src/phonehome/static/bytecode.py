"""Dalvik instructions with their register operands, for the data-flow analysis.

:mod:`phonehome.static.dex` walks bytecode for references only (what the call graph
needs). Following a value needs more: which registers an instruction reads and writes,
where control can go next (branches, switches, exception handlers), and a readable text
of the instruction for the statement path a finding cites. The formats are those of the
Dalvik bytecode reference (source.android.com, "Dalvik bytecode" and "Dalvik executable
instruction formats"); ``Insn.regs`` is in operand order (vA, vB, vC... or the argument
list of an invoke).

Everything is bounded by the code item: a branch target outside it, a payload that runs
past it, or a truncated instruction ends that path (never an exception).
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from phonehome.static.dex import WIDTHS

# Kinds of instruction the transfer function distinguishes.
K_OTHER = 0
K_MOVE = 1
K_MOVE_RESULT = 2
K_MOVE_EXCEPTION = 3
K_RETURN = 4
K_CONST = 5
K_CONST_STRING = 6
K_NEW = 7
K_KEEP = 8
"""check-cast: the register keeps its value."""
K_CLEAR = 9
"""Writes vA with something derived from no tracked value (instance-of, cmp, ...)."""
K_NEW_ARRAY = 10
K_FILLED_ARRAY = 11
K_AGET = 12
K_APUT = 13
K_IGET = 14
K_IPUT = 15
K_SGET = 16
K_SPUT = 17
K_INVOKE = 18
K_UNOP = 19
"""vA = f(vB)."""
K_BINOP = 20
"""vA = f(vB, vC) (23x), or vA = f(vA, vB) for the /2addr forms (regs given as A, A, B)."""
K_GOTO = 21
K_IF = 22
K_SWITCH = 23
K_THROW = 24

STATIC_INVOKES = frozenset((0x71, 0x77))

_NAMES = {
    0x6E: "invoke-virtual", 0x6F: "invoke-super", 0x70: "invoke-direct",
    0x71: "invoke-static", 0x72: "invoke-interface", 0x74: "invoke-virtual/range",
    0x75: "invoke-super/range", 0x76: "invoke-direct/range", 0x77: "invoke-static/range",
    0x78: "invoke-interface/range", 0xFA: "invoke-polymorphic", 0xFB: "invoke-polymorphic/range",
    0xFC: "invoke-custom", 0xFD: "invoke-custom/range", 0x24: "filled-new-array",
    0x25: "filled-new-array/range", 0x0F: "return", 0x10: "return-wide", 0x11: "return-object",
}  # fmt: skip
_FIELD_SUFFIX = ("", "-wide", "-object", "-boolean", "-byte", "-char", "-short")


def mnemonic(op: int) -> str:
    """The smali mnemonic of the opcodes a statement path cites."""
    name = _NAMES.get(op)
    if name is not None:
        return name
    for base, word in ((0x44, "aget"), (0x4B, "aput"), (0x52, "iget"), (0x59, "iput")):
        if base <= op < base + 7:
            return word + _FIELD_SUFFIX[op - base]
    for base, word in ((0x60, "sget"), (0x67, "sput")):
        if base <= op < base + 7:
            return word + _FIELD_SUFFIX[op - base]
    return f"op-{op:02x}"


@dataclass(frozen=True, slots=True)
class Insn:
    offset: int
    """In 16-bit code units from the start of the method's code."""
    op: int
    kind: int
    regs: tuple[int, ...]
    index: int
    """The string/type/field/method index the instruction names, or -1."""
    width: int
    targets: tuple[int, ...] = ()
    """Branch targets (absolute offsets) of goto/if/switch."""


@dataclass(frozen=True, slots=True)
class CodeItem:
    registers: int
    ins: int
    insns: tuple[Insn, ...]
    handlers: tuple[tuple[int, int, tuple[int, ...]], ...]
    """(start, end, handler offsets) of each try block, in code units."""
    truncated: bool = False


def _s8(v: int) -> int:
    return v - 0x100 if v & 0x80 else v


def _s16(v: int) -> int:
    return v - 0x10000 if v & 0x8000 else v


def _s32(v: int) -> int:
    return v - 0x100000000 if v & 0x80000000 else v


def _kind_table() -> list[int]:
    k = [K_OTHER] * 256
    for op in range(0x01, 0x0A):
        k[op] = K_MOVE
    for op in (0x0A, 0x0B, 0x0C):
        k[op] = K_MOVE_RESULT
    k[0x0D] = K_MOVE_EXCEPTION
    for op in (0x0F, 0x10, 0x11):
        k[op] = K_RETURN
    for op in (*range(0x12, 0x1A), 0x1C, 0xFE, 0xFF):
        k[op] = K_CONST
    k[0x1A] = k[0x1B] = K_CONST_STRING
    k[0x1F] = K_KEEP
    for op in (0x20, 0x21, *range(0x2D, 0x32)):
        k[op] = K_CLEAR
    k[0x22] = K_NEW
    k[0x23] = K_NEW_ARRAY
    k[0x24] = k[0x25] = K_FILLED_ARRAY
    for op in range(0x44, 0x4B):
        k[op] = K_AGET
    for op in range(0x4B, 0x52):
        k[op] = K_APUT
    for op in range(0x52, 0x59):
        k[op] = K_IGET
    for op in range(0x59, 0x60):
        k[op] = K_IPUT
    for op in range(0x60, 0x67):
        k[op] = K_SGET
    for op in range(0x67, 0x6E):
        k[op] = K_SPUT
    for op in (*range(0x6E, 0x73), *range(0x74, 0x79), 0xFA, 0xFB, 0xFC, 0xFD):
        k[op] = K_INVOKE
    for op in (*range(0x7B, 0x90), *range(0xD0, 0xE3)):
        k[op] = K_UNOP
    for op in range(0x90, 0xD0):
        k[op] = K_BINOP
    for op in (0x28, 0x29, 0x2A):
        k[op] = K_GOTO
    for op in range(0x32, 0x3E):
        k[op] = K_IF
    k[0x2B] = k[0x2C] = K_SWITCH
    k[0x27] = K_THROW
    return k


KINDS = _kind_table()
_RANGE_INVOKES = frozenset((0x25, *range(0x74, 0x79), 0xFB, 0xFD))


def _decode(units: Sequence[int], i: int, n: int) -> Insn | None:
    """The instruction at ``i``, or None when it is truncated."""
    u = units[i]
    op = u & 0xFF
    width = WIDTHS[op]
    if i + width > n:
        return None
    kind = KINDS[op]
    a8 = u >> 8
    a4, b4 = a8 & 0xF, a8 >> 4
    regs: tuple[int, ...] = ()
    index = -1
    targets: tuple[int, ...] = ()
    if kind in (K_INVOKE, K_FILLED_ARRAY):
        index = units[i + 1]
        if op in _RANGE_INVOKES:
            first = units[i + 2]
            regs = tuple(range(first, first + a8))
        else:
            w = units[i + 2]
            regs = (w & 0xF, (w >> 4) & 0xF, (w >> 8) & 0xF, w >> 12, a4)[: min(b4, 5)]
    elif kind == K_MOVE:
        if op in (0x01, 0x04, 0x07):
            regs = (a4, b4)
        elif op in (0x02, 0x05, 0x08):
            regs = (a8, units[i + 1])
        else:
            regs = (units[i + 1], units[i + 2])
    elif kind in (K_MOVE_RESULT, K_MOVE_EXCEPTION, K_RETURN, K_THROW):
        regs = (a8,)
    elif kind == K_CONST:
        regs = (a4,) if op == 0x12 else (a8,)
        if op in (0x1C, 0xFE, 0xFF):  # const-class, const-method-handle/type
            index = units[i + 1]
    elif kind == K_CONST_STRING:
        regs = (a8,)
        index = units[i + 1] if op == 0x1A else units[i + 1] | (units[i + 2] << 16)
    elif kind in (K_NEW, K_KEEP, K_SGET, K_SPUT):
        regs = (a8,)
        index = units[i + 1]
    elif kind in (K_IGET, K_IPUT, K_NEW_ARRAY) or op == 0x20:
        regs = (a4, b4)
        index = units[i + 1]
    elif kind == K_CLEAR:
        regs = (a4,) if op == 0x21 else (a8,)
    elif kind in (K_AGET, K_APUT):
        w = units[i + 1]
        regs = (a8, w & 0xFF, w >> 8)
    elif kind == K_UNOP:
        # binop/lit8: vAA, vBB; unop and binop/lit16: vA, vB
        regs = (a8, units[i + 1] & 0xFF) if op >= 0xD8 else (a4, b4)
    elif kind == K_BINOP:
        if op >= 0xB0:  # /2addr
            regs = (a4, a4, b4)
        else:
            w = units[i + 1]
            regs = (a8, w & 0xFF, w >> 8)
    elif kind == K_GOTO:
        if op == 0x28:
            off = _s8(a8)
        elif op == 0x29:
            off = _s16(units[i + 1])
        else:
            off = _s32(units[i + 1] | (units[i + 2] << 16))
        targets = (i + off,)
    elif kind == K_IF:
        targets = (i + _s16(units[i + 1]),)
    elif kind == K_SWITCH:
        targets = _switch_targets(units, i, i + _s32(units[i + 1] | (units[i + 2] << 16)), n)
    return Insn(i, op, kind, regs, index, width, targets)


def _switch_targets(units: Sequence[int], at: int, payload: int, n: int) -> tuple[int, ...]:
    if payload < 0 or payload + 2 > n:
        return ()
    ident, size = units[payload], units[payload + 1]
    if ident == 0x0100:
        first = payload + 4
    elif ident == 0x0200:
        first = payload + 2 + 2 * size
    else:
        return ()
    if first + 2 * size > n:
        return ()
    return tuple(
        at + _s32(units[first + 2 * k] | (units[first + 2 * k + 1] << 16)) for k in range(size)
    )


def decode_code(data: bytes, code_off: int, max_units: int = 1 << 20) -> CodeItem | None:
    """The code item at ``code_off`` of a DEX file's bytes, or None if unreadable."""
    if not code_off or code_off + 16 > len(data):
        return None
    registers, ins, _outs, tries, _debug, n = struct.unpack_from("<HHHHII", data, code_off)
    start = code_off + 16
    truncated = False
    if start + 2 * n > len(data) or n > max_units:
        n = min((len(data) - start) // 2, max_units)
        truncated = True
    units = array("H", data[start : start + 2 * n])
    if struct.pack("=H", 1) != b"\x01\x00":
        units.byteswap()
    insns: list[Insn] = []
    i = 0
    while i < n:
        u = units[i]
        if u & 0xFF == 0x00 and u:  # payload pseudo-instruction
            i += _payload_width(units, i, n)
            continue
        insn = _decode(units, i, n)
        if insn is None:
            truncated = True
            break
        insns.append(insn)
        i += insn.width
    handlers = () if truncated else _tries(data, start + 2 * n + (2 if n % 2 else 0), tries)
    return CodeItem(registers, ins, tuple(insns), handlers, truncated)


def _payload_width(units: Sequence[int], i: int, n: int) -> int:
    if i + 1 >= n:
        return 1
    ident, size = units[i], units[i + 1]
    if ident == 0x0100:
        return size * 2 + 4
    if ident == 0x0200:
        return size * 4 + 2
    if ident == 0x0300 and i + 3 < n:
        count = units[i + 2] | (units[i + 3] << 16)
        return (count * size + 1) // 2 + 4
    return 1


def _tries(data: bytes, at: int, count: int) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
    """Try blocks and the addresses of their handlers (catch-all included)."""
    out: list[tuple[int, int, tuple[int, ...]]] = []
    base = at + 8 * count
    try:
        for k in range(count):
            start, n, handler_off = struct.unpack_from("<IHH", data, at + 8 * k)
            pos = base + handler_off
            size, pos = _sleb(data, pos)
            addrs: list[int] = []
            for _ in range(min(abs(size), 256)):
                _type, pos = _uleb(data, pos)
                addr, pos = _uleb(data, pos)
                addrs.append(addr)
            if size <= 0:
                addr, pos = _uleb(data, pos)
                addrs.append(addr)
            out.append((start, start + n, tuple(addrs)))
    except (IndexError, struct.error):
        pass
    return tuple(out)


def _uleb(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80 or shift >= 28:
            return result, at
        shift += 7


def _sleb(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80 or shift >= 35:
            if byte & 0x40:
                result -= 1 << shift
            return result, at
