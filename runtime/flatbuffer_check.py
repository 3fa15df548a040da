"""A bounds-checked verifier for TFLite flatbuffers: what every .tflite passes before any engine reads it.

LiteRT's and TFLM's interpreters (C++) and the flatbuffers Python readers trust the file they are given:
an offset, a vector length or a buffer that points outside it ends in a struct.error, a wrong read or a
signal. This walk follows every table, vector and string of the TFLite schema (tensorflow/lite/schema/
schema.fbs) that an engine reads, refusing with one BundleError that names the file and the first fault:
offsets and vtables inside the file, vector lengths within what is left of it, each index (tensor,
buffer, operator code, subgraph) inside its table, each tensor's shape and type within budget.
"""

from __future__ import annotations

import struct

from vaedge.errors import BundleError
from vaedge.io.files import describe

IDENTIFIER = b"TFL3"
MAX_TENSOR_BYTES = 1 << 30  # one tensor; far above a VAE's, far below what a host or board holds
MAX_RANK = 8
# BuiltinOptions -> its vector of int32 (field 0): ReshapeOptions.new_shape, SqueezeOptions.squeeze_dims
VECTOR_OPTIONS = {17: "new_shape", 30: "squeeze_dims"}
# TensorType -> element bytes, of the types a vaedge graph can hold (schema.fbs numbering)
ELEMENT_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1}


class _Fault(Exception):
    pass


class _Reader:
    """Reads little-endian scalars, tables, vectors and strings of one flatbuffer, never outside it."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.size = len(data)

    def scalar(self, fmt: str, at: int, what: str):
        width = struct.calcsize(fmt)
        if at < 0 or at + width > self.size:
            raise _Fault(f"{what} at byte {at} lies outside the file ({self.size} bytes)")
        return struct.unpack_from("<" + fmt, self.data, at)[0]

    def table(self, at: int, what: str) -> Table:
        vtable = at - self.scalar("i", at, what)
        vsize = self.scalar("H", vtable, f"{what}'s vtable")
        tsize = self.scalar("H", vtable + 2, f"{what}'s vtable")
        if vsize < 4 or vsize % 2 or vtable + vsize > self.size:
            raise _Fault(f"{what}'s vtable at byte {vtable} has a bad size {vsize}")
        if tsize < 4 or at + tsize > self.size:
            raise _Fault(f"{what} at byte {at} runs past the end of the file ({tsize} bytes)")
        for slot in range(vtable + 4, vtable + vsize, 2):
            field = self.scalar("H", slot, f"{what}'s vtable")
            if field and not 4 <= field < tsize:
                raise _Fault(f"{what}: a field at offset {field} lies outside its {tsize} byte table")
        return Table(self, at, vtable, vsize, tsize, what)

    def follow(self, at: int, what: str) -> int:
        """The target of the uoffset stored at `at`."""
        return at + self.scalar("I", at, what)

    def vector(self, at: int, element: int, what: str) -> tuple[int, int]:
        """(start, length) of the vector whose uoffset is stored at `at`, its elements `element` bytes."""
        head = self.follow(at, what)
        length = self.scalar("I", head, f"{what}'s length")
        if head + 4 + length * element > self.size:
            raise _Fault(f"{what} claims {length} elements, more than the file holds")
        return head + 4, length


class Table:
    def __init__(self, reader: _Reader, at: int, vtable: int, vsize: int, tsize: int, what: str):
        self.reader, self.at, self.vtable, self.vsize, self.tsize, self.what = reader, at, vtable, vsize, tsize, what

    def field(self, index: int, width: int) -> int | None:
        """Where field `index` lies in the file (None: absent), checked to fit inside the table."""
        slot = 4 + 2 * index
        if slot + 2 > self.vsize:
            return None
        offset = self.reader.scalar("H", self.vtable + slot, f"{self.what}'s vtable")
        if offset == 0:
            return None
        if offset + width > self.tsize:
            raise _Fault(f"{self.what}: field {index} lies outside its table")
        return self.at + offset

    def scalar(self, index: int, fmt: str, default=0):
        at = self.field(index, struct.calcsize(fmt))
        return default if at is None else self.reader.scalar(fmt, at, f"{self.what}.{index}")

    def scalars_of(self, formats: dict[int, str]) -> None:
        """Read each scalar field {index: struct format}: each must fit inside the table."""
        for index, fmt in formats.items():
            self.scalar(index, fmt)

    def table(self, index: int, what: str) -> Table | None:
        at = self.field(index, 4)
        return None if at is None else self.reader.table(self.reader.follow(at, what), what)

    def vector(self, index: int, element: int, what: str) -> tuple[int, int]:
        at = self.field(index, 4)
        return (0, 0) if at is None else self.reader.vector(at, element, what)

    def scalars(self, index: int, fmt: str, what: str) -> list:
        start, length = self.vector(index, struct.calcsize(fmt), what)
        return list(struct.unpack_from(f"<{length}{fmt}", self.reader.data, start)) if length else []

    def tables(self, index: int, what: str) -> list[Table]:
        start, length = self.vector(index, 4, what)
        return [self.reader.table(self.reader.follow(start + 4 * i, what), f"{what}[{i}]") for i in range(length)]

    def string(self, index: int, what: str) -> str:
        start, length = self.vector(index, 1, what)
        if start and self.reader.scalar("B", start + length, f"{what}'s terminator") != 0:
            raise _Fault(f"{what} is not a terminated string")
        try:
            return bytes(self.reader.data[start : start + length]).decode()
        except UnicodeDecodeError:
            raise _Fault(f"{what} is not UTF-8") from None


def check_tflite(data: bytes, name: str = "model.tflite") -> None:
    """Refuse (BundleError naming `name` and the fault) a TFLite flatbuffer that is not safe to hand to
    an engine or a flatbuffers reader; return None when every part of it checks out."""
    try:
        _check_model(_Reader(data))
    except _Fault as fault:
        raise BundleError(f"{describe(name)}: not a well-formed TFLite flatbuffer: {fault}") from None


def _check_model(reader: _Reader) -> None:
    if reader.size < 8 or bytes(reader.data[4:8]) != IDENTIFIER:
        raise _Fault("no TFL3 file identifier")
    model = reader.table(reader.follow(0, "root offset"), "model")
    if model.scalar(0, "I") != 3:
        raise _Fault(f"schema version {model.scalar(0, 'I')}, not 3")
    codes = model.tables(1, "operator_codes")
    for code in codes:
        code.scalars_of({0: "b", 2: "i", 3: "i"})
        code.string(1, f"{code.what}.custom_code")
        if code.scalar(3, "i") < 0 or code.scalar(0, "b") < 0:
            raise _Fault(f"{code.what} has a negative builtin code")
    buffers = model.tables(4, "buffers")
    sizes = []  # bytes of data each buffer holds
    for buffer in buffers:
        buffer.scalars_of({1: "Q", 2: "Q"})
        _, length = buffer.vector(0, 1, f"{buffer.what}.data")
        offset, size = buffer.scalar(1, "Q"), buffer.scalar(2, "Q")
        if offset > 1 and (offset > reader.size or size > reader.size - offset):
            raise _Fault(f"{buffer.what} points at bytes {offset}..{offset + size}, outside the file")
        sizes.append(size if offset > 1 else length)
    model.string(3, "description")
    model.scalars(5, "i", "metadata_buffer")
    for entry in model.tables(6, "metadata"):
        entry.scalars_of({1: "I"})
        entry.string(0, f"{entry.what}.name")
        _index(entry.scalar(1, "I"), len(buffers), f"{entry.what}.buffer")
    subgraphs = model.tables(2, "subgraphs")
    if not subgraphs:
        raise _Fault("no subgraph")
    for subgraph in subgraphs:
        _check_subgraph(subgraph, len(codes), sizes)
    for signature in model.tables(7, "signature_defs"):
        signature.scalars_of({4: "I"})
        graph = _index(signature.scalar(4, "I"), len(subgraphs), f"{signature.what}.subgraph_index")
        tensors = len(subgraphs[graph].tables(0, "tensors"))
        signature.string(2, f"{signature.what}.signature_key")
        for side in (0, 1):
            for item in signature.tables(side, f"{signature.what}.{('inputs', 'outputs')[side]}"):
                item.scalars_of({1: "I"})
                item.string(0, f"{item.what}.name")
                _index(item.scalar(1, "I"), tensors, f"{item.what}.tensor_index")


def _check_subgraph(subgraph: Table, codes: int, sizes: list[int]) -> None:
    tensors = subgraph.tables(0, f"{subgraph.what}.tensors")
    held = [_check_tensor(tensor, sizes) for tensor in tensors]  # bytes of constant data each holds
    written = set()  # tensors the graph's inputs or its ops fill
    for index, what in ((1, "inputs"), (2, "outputs")):
        for i in subgraph.scalars(index, "i", f"{subgraph.what}.{what}"):
            _index(i, len(tensors), f"{subgraph.what}.{what}")
            written |= {i} if index == 1 else set()
    read = set()
    subgraph.scalars_of({5: "i"})
    subgraph.string(4, f"{subgraph.what}.name")
    for op in subgraph.tables(3, f"{subgraph.what}.operators"):
        op.scalars_of({0: "I", 3: "B", 6: "b", 9: "Q", 10: "Q", 11: "B", 13: "i"})
        if op.scalar(9, "Q") or op.scalar(10, "Q") or op.scalar(11, "B") or op.field(12, 4) is not None:
            raise _Fault(f"{op.what} has large custom options or builtin_options_2, which vaedge graphs never use")
        _index(op.scalar(0, "I"), codes, f"{op.what}.opcode_index")
        for index, what in ((1, "inputs"), (2, "outputs"), (8, "intermediates")):
            for i in op.scalars(index, "i", f"{op.what}.{what}"):
                if i != -1:  # -1: an optional input left out
                    _index(i, len(tensors), f"{op.what}.{what}")
                    (read if index == 1 else written).add(i)
        options = op.table(4, f"{op.what}.builtin_options") if op.scalar(3, "B") else None
        if options is not None:
            _check_options(options, op.scalar(3, "B"))
        op.vector(5, 1, f"{op.what}.custom_options")
        op.vector(7, 1, f"{op.what}.mutating_variable_inputs")
    empty = sorted(i for i in read - written if not held[i] and not tensors[i].scalar(5, "B"))
    if empty:
        raise _Fault(f"{subgraph.what}: tensors {empty[:5]} are read but neither written nor constant")


def _check_options(options: Table, kind: int) -> None:
    """A builtin options table: every field inside it; the vectors of those that hold one, read too."""
    for index in range((options.vsize - 4) // 2):
        options.field(index, 1)
    if kind in VECTOR_OPTIONS:
        options.scalars(0, "i", f"{options.what}.{VECTOR_OPTIONS[kind]}")


def _check_tensor(tensor: Table, sizes: list[int]) -> int:
    """Check one tensor; the bytes of constant data its buffer holds."""
    tensor.scalars_of({1: "b", 2: "I", 5: "B", 8: "B"})
    if tensor.field(9, 4) is not None:
        raise _Fault(f"{tensor.what} has variant tensors, which vaedge graphs never use")
    kind = tensor.scalar(1, "b")
    if kind not in ELEMENT_BYTES:
        raise _Fault(f"{tensor.what} has tensor type {kind}, not one a vaedge graph holds")
    tensor.string(3, f"{tensor.what}.name")
    held = sizes[_index(tensor.scalar(2, "I"), len(sizes), f"{tensor.what}.buffer")]
    for index, what in ((0, "shape"), (7, "shape_signature")):
        shape = tensor.scalars(index, "i", f"{tensor.what}.{what}")
        if len(shape) > MAX_RANK or any(d < -1 for d in shape):
            raise _Fault(f"{tensor.what}.{what} {shape} is not a tensor shape")
        elements = 1
        for d in shape:
            elements *= max(d, 1)
        if elements * ELEMENT_BYTES[kind] > MAX_TENSOR_BYTES:
            raise _Fault(f"{tensor.what}.{what} {shape} needs more than {MAX_TENSOR_BYTES} bytes")
        if index == 0 and held and held != elements * ELEMENT_BYTES[kind]:
            raise _Fault(f"{tensor.what}: shape {shape} of type {kind} is not the {held} bytes of its buffer")
    quantization = tensor.table(4, f"{tensor.what}.quantization")
    if quantization is not None:
        quantization.scalars_of({4: "B", 6: "i"})
        scales = quantization.scalars(2, "f", f"{quantization.what}.scale")
        zero_points = quantization.scalars(3, "q", f"{quantization.what}.zero_point")
        quantization.scalars(0, "f", f"{quantization.what}.min")
        quantization.scalars(1, "f", f"{quantization.what}.max")
        if zero_points and len(zero_points) != len(scales):
            raise _Fault(f"{quantization.what}: {len(scales)} scales but {len(zero_points)} zero points")
        if quantization.scalar(4, "B"):
            raise _Fault(f"{quantization.what} has custom quantization details")
    if tensor.field(6, 4) is not None:
        raise _Fault(f"{tensor.what} is sparse")
    return held


def _index(value: int, count: int, what: str) -> int:
    if not 0 <= value < count:
        raise _Fault(f"{what} {value} is outside 0..{count - 1}")
    return value
