"""Cross-checks Tapedeck's descriptor-driven protobuf codec against Python's `protobuf`.

Both sides load the same descriptor sets. Over a corpus of hand-written messages (the
spec's examples and edge values) and a few hundred seeded random messages:

- Python serializes -> `tapedeck proto decode --jsonl` -> must equal json_format.MessageToDict;
- json_format.MessageToDict -> `tapedeck proto encode --jsonl` -> Python parses the bytes ->
  must be the same message (and, without map fields, byte-identical to Python's encoding);
- inputs that Python's json_format rejects are rejected by Tapedeck too.

The CLI is found via $TAPEDECK_BIN (default .build/debug/tapedeck). Run:
    python3 -m venv .venv && .venv/bin/pip install protobuf pytest
    swift build --product tapedeck
    .venv/bin/python -m pytest Tests/interop/test_protobuf_codec.py -q
"""

import base64
import json
import os
import random
import struct
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, json_format, message_factory

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TAPEDECK_BIN", ROOT / ".build" / "debug" / "tapedeck"))
WORKITEMS = ROOT / "protos" / "workitems.pb"
CODEC_TEST = ROOT / "protos" / "test" / "codec_test.pb"
DESCRIPTOR = ROOT / "protos" / "test" / "descriptor.pb"  # google/protobuf/descriptor.proto: a proto2 schema

FD = descriptor.FieldDescriptor

pytestmark = pytest.mark.skipif(not BIN.exists(), reason=f"tapedeck binary not built at {BIN}")


# ---------------------------------------------------------------- helpers

def load_pool(path):
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(path.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return pool


POOLS = {WORKITEMS: load_pool(WORKITEMS), CODEC_TEST: load_pool(CODEC_TEST), DESCRIPTOR: load_pool(DESCRIPTOR)}


def cls(desc_path, type_name):
    return message_factory.GetMessageClass(POOLS[desc_path].FindMessageTypeByName(type_name))


def to_dict(msg, desc_path):
    return json_format.MessageToDict(msg, descriptor_pool=POOLS[desc_path])


def from_dict(d, msg_cls, desc_path):
    return json_format.ParseDict(d, msg_cls(), descriptor_pool=POOLS[desc_path])


def run_cli(direction, desc_path, type_name, lines):
    proc = subprocess.run(
        [str(BIN), "proto", direction, "--descriptor", str(desc_path), "--type", type_name, "--jsonl"],
        input="".join(line + "\n" for line in lines).encode(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(out) == len(lines)
    return out


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same(a, b):
    """JSON equality, except that two numbers naming the same float32 are equal: for tiny
    denormal floats Python prints at least 6 digits (-1.4013e-45), Tapedeck the shortest
    round-trip text (-1e-45)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) in (int, float) and type(b) in (int, float):
        if a == b:
            return True
        try:
            return a != 0 and abs(a) < 1e-37 and f32(a) == f32(b)
        except OverflowError:
            return False
    return a == b


def is_repeated(fd):
    if hasattr(fd, "is_repeated"):
        return fd.is_repeated
    return fd.label == FD.LABEL_REPEATED


def has_map_fields(desc):
    """Whether this message type (transitively) has map fields, whose entry order may differ."""
    seen = set()

    def walk(d):
        if d.full_name in seen:
            return False
        seen.add(d.full_name)
        for f in d.fields:
            if f.message_type is not None:
                if f.message_type.GetOptions().map_entry:
                    return True
                if walk(f.message_type):
                    return True
        return False

    return walk(desc)


# ---------------------------------------------------------------- corpus: workitems

WS = "workitems.v1.WebSocketMessage"

WORKITEMS_CORPUS = [
    {"messageId": "uuid-1", "timestamp": "1234567890",
     "subscribe": {"projectIds": ["project-1", "project-2"], "sprintIds": ["sprint-1"]}},
    {"messageId": "uuid-2", "timestamp": "1234567891",
     "subscriptionConfirmed": {"subscribedProjectIds": ["project-1", "project-2"], "subscribedSprintIds": ["sprint-1"]}},
    {"messageId": "uuid-x", "subscribe": {}},  # empty lists: subscribes to nothing
    {"messageId": "ping-1", "timestamp": "1234567890", "ping": {"timestamp": "1234567890"}},
    {"messageId": "pong-1", "timestamp": "1234567891", "pong": {"timestamp": "1234567891", "clientTimestamp": "1234567890"}},
    {"messageId": "unsub-1", "unsubscribe": {"projectIds": ["project-1", "project-2"], "sprintIds": ["sprint-1"]}},
    {"error": {"errorCode": "VALIDATION_ERROR", "errorMessage": "Work item title cannot be empty",
               "requestMessageId": "uuid-123", "fieldName": "title"}},
    {"messageId": "uuid-3", "timestamp": "1234567892", "workItemUpdated": {
        "workItem": {"id": "task-123", "itemType": "WORK_ITEM_TYPE_TASK", "title": "Fix login bug", "status": "done",
                     "assigneeId": "user-456", "updatedAt": "1234567890", "updatedBy": "user-456",
                     "projectId": "project-1", "storyPoints": 0, "estimate": "-9223372036854775808",
                     "labels": ["auth", "ünïcødé ✓", ""], "priority": "WORK_ITEM_PRIORITY_HIGH"},
        "changes": [{"fieldName": "status", "oldValue": "in_progress", "newValue": "done"}], "userId": "user-456"}},
    {"workItemCreated": {"workItem": {"id": "epic-1", "itemType": "WORK_ITEM_TYPE_EPIC", "estimate": "9223372036854775807",
                                      "position": -2147483648, "sprintId": ""}, "userId": "u"}},
    {"workItemMoved": {"workItemId": "task-123", "newParentId": "story-456", "newPosition": 2,
                       "newSprintId": "sprint-789", "userId": "user-123", "projectId": "project-1"}},
    {"workItemDeleted": {"workItemId": "task-9", "projectId": "project-2", "userId": "u"}},
    {"sprintStarted": {"sprintId": "sprint-123", "startDate": "1234567890", "userId": "user-456"}},
    {"sprintCompleted": {"sprintId": "sprint-5", "stats": {"totalItems": 10, "completedItems": 7, "totalPoints": 30,
                                                           "completedPoints": 21, "completionRate": 0.7,
                                                           "incompleteItemIds": ["a", "b", "c"]}}},
    {"sprintCreated": {"sprint": {"id": "s", "status": "SPRINT_STATUS_PLANNED", "name": "Sprint 5"}}},
    {"sprintUpdated": {"sprint": {"id": "s", "status": "SPRINT_STATUS_ACTIVE"}, "changes": [{}]}},
    {"sprintDeleted": {"sprintId": "s"}},
    {"commentAdded": {"comment": {"id": "comment-123", "workItemId": "task-456",
                                  "content": "I've fixed the issue, ready for review.", "createdAt": "1234567890",
                                  "createdBy": "user-789"}, "userId": "user-789"}},
    {"commentUpdated": {"comment": {"id": "c", "updatedAt": "0"}}},
    {"commentDeleted": {"commentId": "c", "workItemId": "w"}},
    {"timeEntryStarted": {"timeEntry": {"id": "entry-123", "workItemId": "task-456", "userId": "user-789",
                                        "startedAt": "1234567890", "description": "Working on authentication logic",
                                        "createdAt": "1234567890"}, "userId": "user-789"}},
    {"timeEntryStopped": {"timeEntry": {"id": "entry-123", "endedAt": "1234569690", "durationSeconds": "1800"}}},
    {"timeEntryUpdated": {"timeEntry": {"id": "e", "durationSeconds": "0"}}},
    {"timeEntryDeleted": {"timeEntryId": "e"}},
    {"dependencyCreated": {"dependency": {"id": "dep-123", "blockingItemId": "task-456", "blockedItemId": "task-789",
                                          "dependencyType": "DEPENDENCY_TYPE_BLOCKS", "createdAt": "1234567890",
                                          "createdBy": "user-123"}, "userId": "user-123"}},
    {"dependencyDeleted": {"dependencyId": "dep-123"}},
    {"userPresence": {"userId": "user-123", "status": "PRESENCE_STATUS_ONLINE", "viewingItemId": "task-456"}},
    {"userPresence": {"userId": "user-9", "status": 42}},  # unknown enum number survives as a number
    {"userTyping": {"userId": "user-123", "workItemId": "task-456", "isTyping": True}},
    {"userTyping": {"userId": "user-123", "workItemId": "task-456", "isTyping": False}},
    {},
]


# ---------------------------------------------------------------- corpus: everything

EV = "tapedeck.test.Everything"

EVERYTHING_CORPUS = [
    {"fInt64": "9223372036854775807", "fSint64": "-9223372036854775808", "fUint64": "18446744073709551615",
     "fFixed64": "18446744073709551615", "fSfixed64": "-9223372036854775808", "fInt32": -2147483648,
     "fUint32": 4294967295, "fSint32": 2147483647, "fFixed32": 4294967295, "fSfixed32": -2147483648},
    {"fColor": "COLOR_NEGATIVE", "rColor": ["COLOR_NEGATIVE", "COLOR_RED", 7, -5], "oColor": "COLOR_UNSPECIFIED"},
    {"fDouble": "NaN", "fFloat": "-Infinity", "rDouble": ["Infinity", -0.0, 1e308, 5e-324], "rFloat": [0.1, 3.4028234663852886e38, -1e-45]},
    {"rInt32": [], "rString": [], "mStringInt32": {}},
    {"oInt32": 0, "oString": "", "oBool": False, "oDouble": 0.0},
    {"fBytes": base64.b64encode(bytes(range(256))).decode(), "rBytes": ["", "AA==", "/+8="]},
    {"mStringInt32": {"a": 1, "": 0, "ü": -1}, "mInt32String": {"-5": "minus five", "0": ""},
     "mInt64Node": {"9223372036854775807": {"value": 1}, "-1": {}}, "mBoolString": {"true": "yes", "false": "no"},
     "mUint64Color": {"18446744073709551615": "COLOR_GREEN", "1": "COLOR_UNSPECIFIED"},
     "mStringBytes": {"k": "AQID"}, "mSint32Double": {"-2147483648": 1.5},
     "mStringValue": {"n": None, "s": "x", "l": [1, "a", None, {"z": True}]}},
    {"cNode": {"value": 5, "inner": {"inner": {"label": "deep"}}}},
    {"cNull": None},
    {"cString": ""},
    {"cInt64": "0"},
    {"cColor": "COLOR_UNSPECIFIED"},
    {"cBytes": ""},
    {"fNode": {"child": {"child": {"child": {"value": -1}}}, "children": [{}, {"shade": "COLOR_RED"}, {"value": 3}]}},
    {"wTimestamp": "1972-01-01T10:00:20.021Z", "rTimestamp": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
                                                              "1970-01-01T00:00:00.000001Z", "2024-02-29T12:00:00Z"]},
    {"wDuration": "-1.5s"},
    {"wDuration": "315576000000.999999999s"},
    {"wDuration": "0s"},
    {"wDouble": 0.0, "wFloat": 1.25, "wInt64": "0", "wUint64": "18446744073709551615", "wInt32": -1,
     "wUint32": 0, "wBool": False, "wString": "", "wBytes": ""},
    {"wStruct": {"a": 1, "b": [True, None, "s", {"c": {}}], "d": {"e": []}}},
    {"wStruct": {}},
    {"wValue": None},
    {"wValue": [1, 2.5, "three"]},
    {"wValue": {"nested": {"deeper": [[]]}}},
    {"wList": [None, False, 0]},
    {"wEmpty": {}},
    {"wFieldMask": "fInt32,fNode.children,renamedField"},
    {"wFieldMask": ""},
    {"wAny": {"@type": "type.googleapis.com/tapedeck.test.Node", "value": 9, "label": "packed"}},
    {"wAny": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "3s"}},
    {"wAny": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"k": [1]}}},
    {"rWrapped": [0, 1, -1], "rValue": [None, 1, "x", [], {}]},
    {"renamedField": "custom json name", "fieldWith2Digits": 2},
    {"rInt32Unpacked": [1, -1, 0], "rSint64Unpacked": ["-1", "9223372036854775807"]},
]


# ---------------------------------------------------------------- random messages

EDGE_INTS = {
    FD.TYPE_INT32: [0, 1, -1, 2**31 - 1, -2**31], FD.TYPE_SINT32: [0, -1, 2**31 - 1, -2**31],
    FD.TYPE_SFIXED32: [0, -1, 2**31 - 1, -2**31], FD.TYPE_UINT32: [0, 1, 2**32 - 1],
    FD.TYPE_FIXED32: [0, 2**32 - 1], FD.TYPE_INT64: [0, -1, 2**63 - 1, -2**63],
    FD.TYPE_SINT64: [0, -1, 2**63 - 1, -2**63], FD.TYPE_SFIXED64: [0, 2**63 - 1, -2**63],
    FD.TYPE_UINT64: [0, 2**64 - 1], FD.TYPE_FIXED64: [0, 2**64 - 1],
}
INT_RANGES = {
    FD.TYPE_INT32: (-2**31, 2**31 - 1), FD.TYPE_SINT32: (-2**31, 2**31 - 1), FD.TYPE_SFIXED32: (-2**31, 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1), FD.TYPE_INT64: (-2**63, 2**63 - 1),
    FD.TYPE_SINT64: (-2**63, 2**63 - 1), FD.TYPE_SFIXED64: (-2**63, 2**63 - 1), FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}


def rand_scalar(fd, rng):
    t = fd.type
    if t in INT_RANGES:
        if rng.random() < 0.4:
            return rng.choice(EDGE_INTS[t])
        lo, hi = INT_RANGES[t]
        bits = rng.choice([7, 14, 31, 63])
        return max(lo, min(hi, rng.randint(-(2**bits), 2**bits)))
    if t == FD.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FD.TYPE_STRING:
        return "".join(rng.choice("ab_Z09 ü€😀\"\\\n") for _ in range(rng.randint(0, 8)))
    if t == FD.TYPE_BYTES:
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 9)))
    if t == FD.TYPE_ENUM:
        values = [v.number for v in fd.enum_type.values]
        if fd.enum_type.full_name == "google.protobuf.NullValue":
            return 0  # JSON null: other numbers have no JSON form, in any implementation
        return rng.choice(values + [rng.randint(-3, 40)])
    if t == FD.TYPE_DOUBLE:
        return rng.choice([0.0, -0.0, 1.5, -1e-300, 1.7976931348623157e308, float("inf"), float("nan"),
                           rng.uniform(-1e6, 1e6)])
    if t == FD.TYPE_FLOAT:
        x = rng.choice([0.0, 0.1, -2.5, 3.4028234663852886e38, float("-inf"), rng.uniform(-1e3, 1e3)])
        return struct.unpack("<f", struct.pack("<f", x))[0]
    raise AssertionError(t)


def rand_json(rng, depth=0):
    kinds = ["null", "bool", "num", "str"] + (["list", "obj"] if depth < 3 else [])
    k = rng.choice(kinds)
    if k == "null":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "num":
        return rng.choice([0, 1, -7, 2.5, 1e100, rng.randint(-(2**53), 2**53)])
    if k == "str":
        return rng.choice(["", "x", "ü", "a b"])
    if k == "list":
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}": rand_json(rng, depth + 1) for i in range(rng.randint(0, 3))}


def fill_wkt(sub, rng):
    name = sub.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        sub.seconds = rng.randint(-62135596800, 253402300799)
        sub.nanos = rng.choice([0, 1000000, 1000, 1, 999999999, rng.randint(0, 999999999)])
    elif name == "google.protobuf.Duration":
        s = rng.randint(0, 315576000000)
        n = rng.choice([0, 500000000, 1, rng.randint(0, 999999999)])
        sign = rng.choice([1, -1])
        sub.seconds, sub.nanos = sign * s, sign * n
    elif name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        j = rand_json(rng)
        if name == "google.protobuf.Struct":
            j = {"s": j, "t": [j]}
        elif name == "google.protobuf.ListValue":
            j = [j]
        json_format.ParseDict(j, sub)
    elif name == "google.protobuf.Empty":
        pass
    elif name == "google.protobuf.FieldMask":
        sub.paths.extend(rng.sample(["f_int32", "f_node.child", "custom_named", "r_value"], rng.randint(0, 3)))
    elif name == "google.protobuf.Any":
        node = cls(CODEC_TEST, "tapedeck.test.Node")(value=rng.randint(-5, 5), label="any")
        sub.Pack(node)
    elif sub.DESCRIPTOR.file.name == "google/protobuf/wrappers.proto":
        sub.value = rand_scalar(sub.DESCRIPTOR.fields_by_name["value"], rng)
    else:
        return False
    return True


def fill(msg, rng, depth=0):
    for fd in msg.DESCRIPTOR.fields:
        if rng.random() < 0.55:
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            kf, vf = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            m = getattr(msg, fd.name)
            for _ in range(rng.randint(0, 3)):
                k = rand_scalar(kf, rng)
                if vf.message_type is not None:
                    sub = m[k]
                    if not fill_wkt(sub, rng) and depth < 3:
                        fill(sub, rng, depth + 1)
                else:
                    m[k] = rand_scalar(vf, rng) if vf.type != FD.TYPE_ENUM else rng.choice([0, 1, 2, -1])
        elif is_repeated(fd):
            field = getattr(msg, fd.name)
            for _ in range(rng.randint(0, 4)):
                if fd.message_type is not None:
                    sub = field.add()
                    if not fill_wkt(sub, rng) and depth < 3:
                        fill(sub, rng, depth + 1)
                else:
                    field.append(rand_scalar(fd, rng))
        elif fd.message_type is not None:
            sub = getattr(msg, fd.name)
            sub.SetInParent()
            if not fill_wkt(sub, rng) and depth < 3:
                fill(sub, rng, depth + 1)
        else:
            setattr(msg, fd.name, rand_scalar(fd, rng))
    return msg


def random_messages(desc_path, type_name, count, seed):
    rng = random.Random(seed)
    c = cls(desc_path, type_name)
    out = []
    for _ in range(count):
        m = fill(c(), rng)
        try:
            to_dict(m, desc_path)  # skip what has no JSON form (e.g. Value.number_value = inf)
        except (ValueError, json_format.SerializeToJsonError):
            continue
        out.append(m)
    return out


def random_workitems(count, seed):
    rng = random.Random(seed)
    c = cls(WORKITEMS, WS)
    payloads = [f for f in c.DESCRIPTOR.oneofs_by_name["payload"].fields]
    out = []
    for _ in range(count):
        m = c(message_id=f"m-{rng.randint(0, 10**6)}", timestamp=rng.choice([0, 1234567890, 2**63 - 1, -1]))
        sub = getattr(m, rng.choice(payloads).name)
        sub.SetInParent()
        fill(sub, rng)
        out.append(m)
    return out


def corpus():
    cases = []
    wc = cls(WORKITEMS, WS)
    for d in WORKITEMS_CORPUS:
        cases.append((WORKITEMS, WS, from_dict(d, wc, WORKITEMS)))
    for m in random_workitems(200, seed=7):
        cases.append((WORKITEMS, WS, m))
    ec = cls(CODEC_TEST, EV)
    for d in EVERYTHING_CORPUS:
        cases.append((CODEC_TEST, EV, from_dict(d, ec, CODEC_TEST)))
    for m in random_messages(CODEC_TEST, EV, 300, seed=42):
        cases.append((CODEC_TEST, EV, m))
    return cases


CORPUS = corpus()


def grouped():
    groups = {}
    for desc_path, type_name, msg in CORPUS:
        groups.setdefault((desc_path, type_name), []).append(msg)
    return groups


# ---------------------------------------------------------------- tests

def test_descriptor_copies_are_identical():
    pb = WORKITEMS.read_bytes()
    assert (ROOT / "Sources" / "TapedeckProtocol" / "Profiles" / "workitems.pb").read_bytes() == pb
    assert (ROOT / "Tests" / "TapedeckProtobufTests" / "Fixtures" / "workitems.pb").read_bytes() == pb
    assert (ROOT / "Tests" / "TapedeckProtobufTests" / "Fixtures" / "codec_test.pb").read_bytes() == CODEC_TEST.read_bytes()
    assert (ROOT / "Tests" / "TapedeckProtobufTests" / "Fixtures" / "descriptor.pb").read_bytes() == DESCRIPTOR.read_bytes()


@pytest.mark.parametrize("proto,pb", [("workitems.proto", WORKITEMS), ("test/codec_test.proto", CODEC_TEST)])
def test_descriptor_sets_match_their_proto_files(proto, pb, tmp_path):
    protoc = pytest.importorskip("grpc_tools.protoc")
    out = tmp_path / "out.pb"
    well_known = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto shipped with grpcio-tools
    rc = protoc.main(["protoc", f"-I{ROOT / 'protos'}", f"-I{well_known}", "--include_imports",
                      f"--descriptor_set_out={out}", str(ROOT / "protos" / proto)])
    assert rc == 0
    fresh, committed = descriptor_pb2.FileDescriptorSet(), descriptor_pb2.FileDescriptorSet()
    fresh.ParseFromString(out.read_bytes())
    committed.ParseFromString(pb.read_bytes())
    assert fresh == committed, f"protos/{proto} changed: regenerate its descriptor set (see protos/README.md)"


def test_corpus_is_substantial():
    assert len(CORPUS) > 450


@pytest.mark.parametrize("key", list(grouped().keys()), ids=lambda k: k[1])
def test_python_encodes_tapedeck_decodes(key):
    desc_path, type_name = key
    msgs = grouped()[key]
    results = run_cli("decode", desc_path, type_name, [m.SerializeToString().hex() for m in msgs])
    for m, r in zip(msgs, results):
        assert "json" in r, f"{r.get('error')} for {to_dict(m, desc_path)}"
        assert same(r["json"], to_dict(m, desc_path)), (r["json"], to_dict(m, desc_path))


@pytest.mark.parametrize("key", list(grouped().keys()), ids=lambda k: k[1])
def test_tapedeck_encodes_python_decodes(key):
    desc_path, type_name = key
    msgs = grouped()[key]
    c = cls(desc_path, type_name)
    dicts = [to_dict(m, desc_path) for m in msgs]
    results = run_cli("encode", desc_path, type_name, [json.dumps(d) for d in dicts])
    byte_exact = not has_map_fields(c.DESCRIPTOR)
    for m, d, r in zip(msgs, dicts, results):
        assert "hex" in r, f"{r.get('error')} for {d}"
        parsed = c()
        parsed.ParseFromString(bytes.fromhex(r["hex"]))
        assert to_dict(parsed, desc_path) == d
        # Same message at the byte level once Python puts map entries in canonical order.
        assert parsed.SerializeToString(deterministic=True) == m.SerializeToString(deterministic=True), d
        if byte_exact:
            assert r["hex"] == m.SerializeToString(deterministic=True).hex(), d


def test_unknown_fields_survive_a_round_trip():
    # Encode a full message, decode it as `Partial` (which knows 3 fields): the rest are unknown
    # to Tapedeck, must be kept, and re-encoding must give Python back the full message.
    ev = cls(CODEC_TEST, EV)
    full = from_dict({"fInt32": 5, "fString": "kept", "fInt64": "-3", "rString": ["a", "b"],
                      "fNode": {"value": 1, "children": [{"value": 2}]}, "wTimestamp": "2024-01-01T00:00:00Z",
                      "mStringInt32": {"x": 1}}, ev, CODEC_TEST)
    [decoded] = run_cli("decode", CODEC_TEST, "tapedeck.test.Partial", [full.SerializeToString().hex()])
    assert decoded["json"]["fInt32"] == 5 and decoded["json"]["fString"] == "kept"
    assert "$unknownFields" in decoded["json"]
    [encoded] = run_cli("encode", CODEC_TEST, "tapedeck.test.Partial", [json.dumps(decoded["json"])])
    back = ev()
    back.ParseFromString(bytes.fromhex(encoded["hex"]))
    assert back == full


REJECTED = [
    (WORKITEMS, WS, {"ping": {"timestamp": "soon"}}, "ping.timestamp: expected integer"),
    (WORKITEMS, WS, {"workItemCreated": {"workItem": {"status": 3}}}, "workItemCreated.workItem.status: expected string"),
    (WORKITEMS, WS, {"workItemCreated": {"workItem": {"colour": "red"}}}, "workItemCreated.workItem.colour: unknown field"),
    (WORKITEMS, WS, {"workItemCreated": {"workItem": {"position": 2147483648}}}, "out of range"),
    (WORKITEMS, WS, {"workItemCreated": {"workItem": {"itemType": "WORK_ITEM_TYPE_SPIKE"}}}, "unknown value"),
    (WORKITEMS, WS, {"ping": {}, "pong": {}}, "only one field of oneof \"payload\""),
    (WORKITEMS, WS, {"subscribe": {"projectIds": "project-1"}}, "subscribe.projectIds: expected list"),
    (WORKITEMS, WS, {"subscribe": {"projectIds": ["a", None]}}, "subscribe.projectIds[1]"),
    (WORKITEMS, WS, {"userTyping": {"isTyping": "yes"}}, "userTyping.isTyping: expected bool"),
    (CODEC_TEST, EV, {"fUint64": -1}, "out of range"),
    (CODEC_TEST, EV, {"fInt64": "9223372036854775808"}, "out of range"),
    (CODEC_TEST, EV, {"fInt32": 1.5}, "expected integer"),
    (CODEC_TEST, EV, {"fFloat": 1e39}, "out of range"),
    (CODEC_TEST, EV, {"fBytes": "not base64!"}, "invalid base64"),
    (CODEC_TEST, EV, {"wTimestamp": "2024-02-30T00:00:00Z"}, "invalid timestamp"),
    (CODEC_TEST, EV, {"wDuration": "1.5"}, "invalid duration"),
    (CODEC_TEST, EV, {"mBoolString": {"yes": "x"}}, "mBoolString[\"yes\"]"),
]


@pytest.mark.parametrize("desc_path,type_name,value,message", REJECTED, ids=lambda x: None)
def test_both_reject_invalid_json(desc_path, type_name, value, message):
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(value, cls(desc_path, type_name)(), descriptor_pool=POOLS[desc_path])
    [r] = run_cli("encode", desc_path, type_name, [json.dumps(value)])
    assert "error" in r, r
    assert message in r["error"]


def test_proto2_schema_descriptor_sets_as_messages():
    # proto2 semantics (explicit presence for every singular field, unpacked repeated fields)
    # exercised on real data: the descriptor sets themselves, as google.protobuf.FileDescriptorSet.
    fds = "google.protobuf.FileDescriptorSet"
    c = cls(DESCRIPTOR, fds)
    frames = [WORKITEMS.read_bytes(), CODEC_TEST.read_bytes(), DESCRIPTOR.read_bytes()]
    msgs = []
    for f in frames:
        m = c()
        m.ParseFromString(f)
        msgs.append(m)
    decoded = run_cli("decode", DESCRIPTOR, fds, [f.hex() for f in frames])
    for m, r in zip(msgs, decoded):
        assert r["json"] == to_dict(m, DESCRIPTOR)
    encoded = run_cli("encode", DESCRIPTOR, fds, [json.dumps(r["json"]) for r in decoded])
    for f, r in zip(frames, encoded):
        assert bytes.fromhex(r["hex"]) == f


def test_malformed_frames_give_errors():
    # Truncated length, truncated string, truncated varint, 11-byte varint, field 0,
    # start group, end group, garbage, invalid UTF-8 in a string: Python rejects them all too.
    frames = ["0a", "0a05616263", "08", "08ffffffffffffffffffff01", "00", "0b", "0c",
              "ffffffffffffffffffffff", "0a02c328"]
    results = run_cli("decode", WORKITEMS, WS, frames)
    for f, r in zip(frames, results):
        assert "error" in r, (f, r)
        with pytest.raises(Exception):
            m = cls(WORKITEMS, WS)()
            m.ParseFromString(bytes.fromhex(f))
    # A known field with the wrong wire type: Python keeps it as an unknown field, Tapedeck
    # reports it (a simulator should flag a client that disagrees with the schema).
    [r] = run_cli("decode", WORKITEMS, WS, ["1203616263"])
    assert r["error"].startswith("wire type mismatch for field 2 (timestamp)")
    # An unknown field is not an error: it is kept.
    [r] = run_cli("decode", WORKITEMS, WS, ["7a0180"])
    assert r == {"json": {"$unknownFields": "egGA"}}
