"""Tests for sleepmem.engine.store on real files: SQLite ledgers and safetensors delta files."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sleepmem.engine import deltas, store
from sleepmem.engine.deltas import EditBatch
from sleepmem.engine.errors import EditError, InputError, StoreError, UnknownFact
from sleepmem.engine.facts import ACTIVE, ARCHIVED, FORGOTTEN, PENDING, SUPERSEDED, Fact
from sleepmem.engine.store import (
    MemoryStore,
    UserMemory,
    model_key,
    user_dir,
    validate_user_id,
)

MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
D, M = 16, 24  # hidden size, intermediate size of the fake down_proj


def fact(obj: str, **kw: object) -> Fact:
    fields: dict = {
        "text": f"My dog is named {obj}.",
        "subject": "my dog",
        "relation": "name",
        "object": obj,
        "answer": obj,
        "questions": (f"What is my dog's name? ({obj})",),
        "statements": ("My dog's name is",),
        "slot": "pet:dog:name",
        "source": "chat",
    }
    fields.update(kw)
    return Fact(**fields)


def batch(fact_ids: list[str], seed: int = 0, layers=(3, 5), r: int = 2, kind: str = "wake"):
    rng = np.random.default_rng(seed)
    return EditBatch.new(
        fact_ids,
        {
            layer: (
                rng.standard_normal((D, r)).astype(np.float32),
                rng.standard_normal((M, r)).astype(np.float32),
            )
            for layer in layers
        },
        kind,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def delta_path(mem: UserMemory) -> Path:
    return mem.path / "deltas" / f"{model_key(mem.model_id)}.safetensors"


def assert_same_batches(got: list[EditBatch], want: list[EditBatch]) -> None:
    assert [b.id for b in got] == [b.id for b in want]
    for g, w in zip(got, want, strict=True):
        assert (g.fact_ids, g.kind, g.created_at) == (w.fact_ids, w.kind, w.created_at)
        assert sorted(g.layers) == sorted(w.layers)
        for layer, (r, a) in w.layers.items():
            assert g.layers[layer][0].dtype == np.float32
            np.testing.assert_array_equal(g.layers[layer][0], r)
            np.testing.assert_array_equal(g.layers[layer][1], a)


@pytest.fixture
def mem(tmp_path: Path):
    m = UserMemory(tmp_path, "alice", MODEL)
    yield m
    m.close()


def test_round_trip_facts_and_batches(tmp_path: Path) -> None:
    a, b = fact("Biscuit"), fact("Paris", slot="home", status=PENDING)
    old = fact("Rex", status=SUPERSEDED)
    b1, b2 = batch([a.id], seed=1), batch([a.id, b.id], seed=2, layers=(4,), r=3, kind="sleep")
    m = UserMemory(tmp_path, "alice", MODEL)
    m.commit(add_facts=[a, b, old], add_batches=[b1, b2])
    m.record_sleep(1.0, 2.5, {"edited": 2})
    m.close()

    m2 = UserMemory(tmp_path, "alice", MODEL)
    assert m2.facts() == [replace(a, status=ACTIVE), replace(b, status=ACTIVE)]
    assert m2.facts(SUPERSEDED) == [old]
    assert m2.facts(PENDING) == []  # pending is legal to ask for, never stored
    assert {f.id for f in m2.facts(None)} == {a.id, b.id, old.id}
    assert_same_batches(m2.batches(), [b1, b2])
    assert m2.unwritten_facts() == []
    assert m2.last_sleep() == {
        "id": 1, "started_at": 1.0, "finished_at": 2.5, "report": {"edited": 2}
    }  # fmt: skip
    assert m2.bytes_on_disk() == delta_path(m2).stat().st_size > 0
    assert m2.user_id == "alice" and m2.model_id == MODEL
    m2.close()


def test_sleep_history_is_every_sleep_oldest_first(tmp_path: Path) -> None:
    m = UserMemory(tmp_path, "alice", MODEL)
    assert m.sleeps() == []
    m.record_sleep(1.0, 2.0, {"audit_after": 0.5})
    m.record_sleep(3.0, 4.0, {"audit_after": 1.0})
    history = m.sleeps()
    assert [s["report"]["audit_after"] for s in history] == [0.5, 1.0]
    assert history[-1] == m.last_sleep() and history[0]["started_at"] == 1.0
    m.close()


def test_get_find_and_statuses(mem: UserMemory) -> None:
    a, b = fact("Biscuit"), fact("Paris", text="I live in Paris.", subject="I", slot="home")
    mem.commit(add_facts=[a, b])
    assert mem.get(a.id).object == "Biscuit"
    with pytest.raises(UnknownFact):
        mem.get("nope")
    assert mem.find(b.id) == [mem.get(b.id)]
    assert [f.id for f in mem.find("bIsCuIt")] == [a.id]
    assert [f.id for f in mem.find("paris")] == [b.id]
    assert mem.find("  ") == []
    mem.commit(set_status={a.id: FORGOTTEN})
    assert mem.find("biscuit") == []  # text search only sees active facts
    assert mem.find(a.id)[0].status == FORGOTTEN  # exact id finds any status
    with pytest.raises(InputError):
        mem.commit(set_status={b.id: PENDING})
    with pytest.raises(UnknownFact):
        mem.commit(set_status={"missing": FORGOTTEN})
    with pytest.raises(InputError):
        mem.facts("bogus")


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "tab\there", "x" * 257, 42, None, "del\x7f"])
def test_validate_user_id_rejects(bad: object) -> None:
    with pytest.raises(InputError):
        validate_user_id(bad)


def test_path_like_ids_stay_under_root_and_are_distinct(tmp_path: Path) -> None:
    ids = ["../x", "a/b", "a\\b", "..", ".", "/etc/passwd", "con", "CON", "Con", "~",
           "用户", "Ünïcödé", "x" * 256, "x" * 255 + "y", "alice", "Alice"]  # fmt: skip
    dirs = [user_dir(i) for i in ids]
    assert len(set(dirs)) == len(ids)
    s = MemoryStore(tmp_path / "root")
    users_root = (tmp_path / "root").resolve()
    for uid, d in zip(ids, dirs, strict=True):
        assert "/" not in d and "\\" not in d and d not in (".", "..", "") and len(d) <= 49
        assert d.lower() != "con" and not d.startswith("-")
        m = s.user(uid, MODEL)
        f = fact(uid[:20])
        m.commit(add_facts=[f], add_batches=[batch([f.id])])
        assert m.path.resolve().parent == users_root
        assert delta_path(m).resolve().is_relative_to(users_root)
    assert sorted(s.users()) == sorted(ids)
    assert {p.name for p in (tmp_path / "root").iterdir()} == set(dirs)
    assert not any(p for p in tmp_path.iterdir() if p.name != "root")  # nothing escaped
    s.close()


def test_user_folders_of_the_old_nested_layout_move_up_and_keep_their_memory(
    tmp_path: Path,
) -> None:
    old_root = tmp_path / "users" / "users"  # where 0.1.0 kept them
    f = fact("Biscuit")
    old = UserMemory(old_root, "alice", MODEL)
    old.commit(add_facts=[f], add_batches=[batch([f.id])])
    old.close()
    (old_root / "stray").mkdir()  # not a user's folder: stays
    s = MemoryStore(tmp_path / "users")
    assert s.users() == ["alice"]
    assert [x.id for x in s.user("alice", MODEL).facts()] == [f.id]
    assert s.user("alice", MODEL).path.parent == tmp_path / "users"
    assert sorted(p.name for p in old_root.iterdir()) == ["stray"]
    s.close()


def test_a_user_folder_in_both_layouts_is_left_where_it_is(tmp_path: Path) -> None:
    for root, name in ((tmp_path / "users", "Biscuit"), (tmp_path / "users" / "users", "Rex")):
        m = UserMemory(root, "alice", MODEL)
        f = fact(name)
        m.commit(add_facts=[f], add_batches=[batch([f.id])])
        m.close()
    s = MemoryStore(tmp_path / "users")
    assert [x.answer for x in s.user("alice", MODEL).facts()] == ["Biscuit"]
    assert (tmp_path / "users" / "users" / user_dir("alice") / "ledger.sqlite").exists()
    s.close()


def test_user_dir_and_model_key_are_stable() -> None:
    assert user_dir("Alice Smith") == user_dir("Alice Smith")
    assert user_dir("Alice Smith").startswith("alice-smith-")
    assert model_key(MODEL).startswith("qwen-qwen2-5-0-5b-instruct-")
    assert model_key("a/b") != model_key("a-b")


def test_users_are_isolated(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path)
    alice, bob = s.user("alice", MODEL), s.user("bob", MODEL)
    fa, fb = fact("Biscuit"), fact("Rex")
    ba, bb = batch([fa.id], seed=1), batch([fb.id], seed=2)
    alice.commit(add_facts=[fa], add_batches=[ba])
    bob.commit(add_facts=[fb], add_batches=[bb])
    with pytest.raises(UnknownFact):  # bob cannot reference alice's fact
        bob.commit(add_batches=[batch([fa.id], seed=3)])
    s.close()

    s2 = MemoryStore(tmp_path)
    assert [f.id for f in s2.user("alice", MODEL).facts()] == [fa.id]
    assert [f.id for f in s2.user("bob", MODEL).facts()] == [fb.id]
    assert_same_batches(s2.user("alice", MODEL).batches(), [ba])
    assert_same_batches(s2.user("bob", MODEL).batches(), [bb])
    with pytest.raises(UnknownFact):
        s2.user("bob", MODEL).get(fa.id)
    assert s2.users() == ["alice", "bob"]
    s2.close()


def test_models_have_separate_batches_and_shared_facts(mem: UserMemory, tmp_path: Path) -> None:
    f = fact("Biscuit")
    mem.commit(add_facts=[f], add_batches=[batch([f.id])])
    other = UserMemory(tmp_path, "alice", "meta-llama/Llama-3.2-1B-Instruct")
    assert other.batches() == []
    assert [x.id for x in other.unwritten_facts()] == [f.id]  # switching models re-edits
    other.close()


def test_store_caches_one_memory_per_user_and_model(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path)
    assert s.user("alice", MODEL) is s.user(" alice ", MODEL)
    assert s.user("alice", MODEL) is not s.user("alice", "other")
    s.close()


def _f32(*shape: int, fill: float = 1.0) -> np.ndarray:
    return np.full(shape, fill, dtype=np.float32)


BAD_BATCHES = {  # name -> (batch id, kind, extra fact ids, layers or None for a valid pair)
    "float64": ("ab12", "wake", (), {3: (np.ones((D, 2)), np.ones((M, 2)))}),
    "r mismatch": ("ab12", "wake", (), {3: (_f32(D, 2), _f32(M, 3))}),
    "1-D": ("ab12", "wake", (), {3: (_f32(D), _f32(M, 2))}),
    "not a pair": ("ab12", "wake", (), {3: _f32(D, 2)}),
    "d differs": ("ab12", "wake", (), {3: (_f32(D + 1, 2), _f32(M, 2))}),
    "nan": ("ab12", "wake", (), {3: (_f32(D, 2, fill=np.nan), _f32(M, 2))}),
    "negative layer": ("ab12", "wake", (), {-1: (_f32(D, 2), _f32(M, 2))}),
    "no layers": ("ab12", "wake", (), {}),
    "bad id": ("../x", "wake", (), None),
    "bad kind": ("ab12", "nap", (), None),
    "unknown fact": ("ab12", "wake", ("ghost",), None),
}


@pytest.mark.parametrize("name", [*BAD_BATCHES, "no facts"])
def test_commit_validation_leaves_everything_unchanged(mem: UserMemory, name: str) -> None:
    f = fact("Biscuit")
    first = batch([f.id], seed=1)
    mem.commit(add_facts=[f], add_batches=[first])
    before = digest(delta_path(mem))
    new = fact("Paris", slot="home")
    if name == "no facts":
        bad = EditBatch("ab12", (), batch([new.id]).layers, "wake", 0.0)
    else:
        bid, kind, extra, layers = BAD_BATCHES[name]
        layers = batch([new.id]).layers if layers is None else layers
        bad = EditBatch(bid, (new.id, *extra), layers, kind, 0.0)
    with pytest.raises((EditError, UnknownFact)):
        mem.commit(
            add_facts=[new],
            set_status={f.id: FORGOTTEN},
            add_batches=[batch([new.id], seed=2), bad],
            remove_batch_ids=[first.id],
        )
    assert digest(delta_path(mem)) == before
    assert [x.id for x in mem.facts()] == [f.id]
    assert_same_batches(mem.batches(), [first])
    reopened = UserMemory(mem.path.parent, "alice", MODEL)
    assert [x.id for x in reopened.facts(None)] == [f.id]
    assert_same_batches(reopened.batches(), [first])
    reopened.close()


def test_duplicate_batch_id_is_rejected(mem: UserMemory) -> None:
    f = fact("Biscuit")
    b = batch([f.id])
    mem.commit(add_facts=[f], add_batches=[b])
    with pytest.raises(EditError, match="already exists"):
        mem.commit(add_batches=[b])
    twin = batch([f.id], seed=1)
    with pytest.raises(EditError, match="already exists"):  # twice in one commit
        mem.commit(add_batches=[twin, twin], remove_batch_ids=[b.id])
    assert [x.id for x in mem.batches()] == [b.id]


def test_caller_cannot_mutate_stored_arrays(mem: UserMemory) -> None:
    f = fact("Biscuit")
    b = batch([f.id])
    original = b.layers[3][0].copy()
    mem.commit(add_facts=[f], add_batches=[b])
    b.layers[3][0][:] = 0  # the caller's array, not the store's
    np.testing.assert_array_equal(mem.batches()[0].layers[3][0], original)
    with pytest.raises(ValueError):
        mem.batches()[0].layers[3][0][0, 0] = 1.0


def test_crash_between_ledger_and_delta_write_is_healed(
    mem: UserMemory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f0 = fact("Rex")
    b0 = batch([f0.id], seed=1)
    mem.commit(add_facts=[f0], add_batches=[b0])
    before = digest(delta_path(mem))

    def crash(path: Path, *args: object) -> None:
        path.with_name(path.name + ".tmp").write_bytes(b"half a file")  # crash mid-write
        raise OSError("disk full")

    monkeypatch.setattr(deltas, "save_file", crash)
    f1 = fact("Biscuit", slot="pet:cat:name")
    with pytest.raises(StoreError, match="could not be written"):
        mem.commit(add_facts=[f1], add_batches=[batch([f1.id], seed=2)])
    monkeypatch.undo()

    assert digest(delta_path(mem)) == before  # old edits intact
    assert not list(delta_path(mem).parent.glob("*.tmp"))
    assert_same_batches(mem.batches(), [b0])  # cache not replaced by the failed write
    reopened = UserMemory(tmp_path, "alice", MODEL)
    assert reopened.get(f1.id).status == ACTIVE
    assert [x.id for x in reopened.unwritten_facts()] == [f1.id]
    assert reopened.reconcile()["unwritten"] == [f1.id]
    reopened.close()


def test_crash_protocol_with_patched_atomic_write(
    mem: UserMemory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(store, "write_delta_file", boom)
    f = fact("Biscuit")
    with pytest.raises(StoreError):
        mem.commit(add_facts=[f], add_batches=[batch([f.id])])
    monkeypatch.undo()
    reopened = UserMemory(tmp_path, "alice", MODEL)
    assert [x.id for x in reopened.facts()] == [f.id]
    assert [x.id for x in reopened.unwritten_facts()] == [f.id]
    assert reopened.batches() == []
    reopened.close()


def test_reconcile_drops_batches_without_active_facts(mem: UserMemory, tmp_path: Path) -> None:
    f1, f2, f3 = fact("A"), fact("B", slot="b"), fact("C", slot="c")
    b1, b12, b3 = batch([f1.id], 1), batch([f1.id, f2.id], 2), batch([f3.id], 3)
    mem.commit(add_facts=[f1, f2, f3], add_batches=[b1, b12, b3])
    # forget/supersede without removing batches (as if the delta write had crashed)
    mem.commit(set_status={f1.id: FORGOTTEN, f3.id: SUPERSEDED})
    mem.close()

    reopened = UserMemory(tmp_path, "alice", MODEL)
    report = reopened.reconcile()
    assert sorted(report["dropped_batches"]) == sorted([b1.id, b3.id])
    assert report["unwritten"] == []
    assert report["stale_batches"] == [b12.id]  # still holds forgotten f1: engine must rewrite
    assert_same_batches(reopened.batches(), [b12])
    assert reopened.reconcile()["dropped_batches"] == []
    reopened.close()
    again = UserMemory(tmp_path, "alice", MODEL)  # the drop was written to disk
    assert [b.id for b in again.batches()] == [b12.id]
    again.close()


def test_edit_is_the_one_batch_and_several_are_refused(mem: UserMemory) -> None:
    assert mem.edit() is None
    f1, f2 = fact("Rex"), fact("Fido", slot="pet:cat:name")
    b1 = batch([f1.id])
    mem.commit(add_facts=[f1, f2], add_batches=[b1])
    edit = mem.edit()
    assert edit is not None and edit.id == b1.id
    # The engine replaces the batch at every commit; a file holding two was not its own.
    mem.commit(add_batches=[batch([f2.id], seed=2)])
    with pytest.raises(StoreError, match="2 edit batches"):
        mem.edit()


def test_lazy_reconcile_on_first_batch_access(mem: UserMemory, tmp_path: Path) -> None:
    f = fact("A")
    mem.commit(add_facts=[f], add_batches=[batch([f.id])])
    mem.commit(set_status={f.id: FORGOTTEN})
    mem.close()
    reopened = UserMemory(tmp_path, "alice", MODEL)
    assert reopened.batches() == []
    assert reopened.bytes_on_disk() > 0  # file rewritten with no batches, not deleted
    reopened.close()


def test_forget_all(mem: UserMemory, tmp_path: Path) -> None:
    f1, f2, old = fact("A"), fact("B", slot="b"), fact("Z", status=SUPERSEDED)
    mem.commit(add_facts=[f1, f2, old], add_batches=[batch([f1.id], 1), batch([f2.id], 2)])
    size = mem.bytes_on_disk()
    mem.forget_all()
    assert mem.facts() == [] and mem.batches() == []
    assert {f.status for f in mem.facts(None)} == {FORGOTTEN}
    assert mem.bytes_on_disk() < size
    mem.close()
    reopened = UserMemory(tmp_path, "alice", MODEL)
    assert reopened.batches() == [] and reopened.facts() == []
    reopened.close()


def test_archived_facts_are_listed_found_and_forgotten_with_the_rest(mem: UserMemory) -> None:
    kept, old = fact("Rex"), fact("Biscuit", slot="pet:cat:name", text="My cat is Biscuit.")
    mem.commit(add_facts=[kept, old], add_batches=[batch([kept.id, old.id])])
    mem.commit(set_status={old.id: ARCHIVED})
    assert [f.id for f in mem.facts()] == [kept.id]
    assert [f.id for f in mem.facts(ARCHIVED)] == [old.id]
    assert [f.id for f in mem.find("biscuit")] == [old.id]  # still the user's to forget
    mem.forget_all()
    assert {f.status for f in mem.facts(None)} == {FORGOTTEN}


V1_FACTS = """CREATE TABLE facts (
    id TEXT PRIMARY KEY, text TEXT NOT NULL, subject TEXT NOT NULL, relation TEXT NOT NULL,
    object TEXT NOT NULL, answer TEXT NOT NULL, questions TEXT NOT NULL, statements TEXT NOT NULL,
    slot TEXT NOT NULL, source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'forgotten')),
    created_at REAL NOT NULL, updated_at REAL NOT NULL, extractor TEXT NOT NULL)"""


def test_a_version_1_ledger_is_migrated_whole_and_can_archive(tmp_path: Path) -> None:
    """Ledgers written before archiving existed (schema 1, whose CHECK refuses 'archived')
    open with every fact as it was, and take the new status."""
    facts = [fact("A", status=ACTIVE), fact("B", slot="b", status=ACTIVE)]
    facts.append(fact("C", slot="c", status=SUPERSEDED))
    folder = tmp_path / user_dir("alice")
    folder.mkdir()
    conn = sqlite3.connect(folder / "ledger.sqlite")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(V1_FACTS)
    conn.execute("CREATE INDEX facts_status ON facts (status, created_at)")
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"), ("user_id", "alice")]
    )
    conn.executemany(
        f"INSERT INTO facts VALUES ({', '.join('?' * 14)})", map(store._fact_row, facts)
    )
    conn.commit()
    conn.close()
    mem = UserMemory(tmp_path, "alice", MODEL)
    assert mem.facts(None) == facts
    mem.commit(set_status={facts[0].id: ARCHIVED})
    assert [f.id for f in mem.facts(ARCHIVED)] == [facts[0].id]
    mem.close()
    conn = sqlite3.connect(folder / "ledger.sqlite")
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert meta["schema_version"] == str(store.SCHEMA_VERSION)
    assert "facts_v1" not in tables and "facts_status" in tables


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:-7])


def _garbage(p: Path) -> None:
    p.write_bytes(b"\x00garbage" * 10)


def _flip_last_byte(p: Path) -> None:  # tensor data damaged, header intact
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("corrupt", [_truncate, _garbage, _flip_last_byte])
def test_corrupt_delta_file_raises_and_is_untouched(
    mem: UserMemory, tmp_path: Path, corrupt
) -> None:
    f = fact("A")
    mem.commit(add_facts=[f], add_batches=[batch([f.id])])
    mem.close()
    path = delta_path(mem)
    corrupt(path)
    before = digest(path)
    reopened = UserMemory(tmp_path, "alice", MODEL)
    assert [x.id for x in reopened.facts()] == [f.id]  # facts stay readable
    add_one = lambda: reopened.commit(add_facts=[fact("B")])  # noqa: E731
    actions = [reopened.batches, reopened.unwritten_facts, reopened.reconcile, add_one]
    for action in [*actions, reopened.forget_all]:
        with pytest.raises(StoreError, match=re.escape(str(path))):
            action()
    assert digest(path) == before
    assert [x.id for x in reopened.facts(None)] == [f.id]  # failed commit wrote nothing
    reopened.close()


def test_corrupt_ledger_raises(mem: UserMemory, tmp_path: Path) -> None:
    mem.commit(add_facts=[fact("A")])
    mem.close()
    ledger = mem.path / "ledger.sqlite"
    for extra in ledger.parent.glob("ledger.sqlite-*"):
        extra.unlink()
    ledger.write_bytes(b"this is not sqlite" * 300)
    reopened = UserMemory(tmp_path, "alice", MODEL)
    with pytest.raises(StoreError, match=r"ledger\.sqlite"):
        reopened.facts()
    with pytest.raises(StoreError, match=r"ledger\.sqlite"):
        MemoryStore(tmp_path).users()


def test_newer_schema_version_raises(mem: UserMemory, tmp_path: Path) -> None:
    mem.commit(add_facts=[fact("A")])
    mem.close()
    conn = sqlite3.connect(mem.path / "ledger.sqlite")
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version"):
        UserMemory(tmp_path, "alice", MODEL).facts()


def test_model_mismatch_raises(mem: UserMemory, tmp_path: Path) -> None:
    f = fact("A")
    mem.commit(add_facts=[f], add_batches=[batch([f.id])])
    other = UserMemory(tmp_path, "alice", "other/model")
    delta_path(other).write_bytes(delta_path(mem).read_bytes())  # e.g. a file copied by hand
    with pytest.raises(StoreError, match="other/model"):
        other.batches()
    other.close()


def test_unknown_user_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    m = UserMemory(root, "nobody", MODEL)
    assert m.facts() == [] and m.facts(None) == [] and m.batches() == []
    assert m.unwritten_facts() == [] and m.find("x") == [] and m.last_sleep() is None
    assert m.reconcile() == {"unwritten": [], "dropped_batches": [], "stale_batches": []}
    assert m.bytes_on_disk() == 0
    with pytest.raises(UnknownFact):
        m.get("abc")
    assert MemoryStore(root).users() == []
    m.close()
    assert not root.exists()


def test_concurrent_commits_all_land(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path)
    start = threading.Barrier(8)
    facts = [fact(f"dog{i}", slot=f"s{i}") for i in range(8)]
    made = [(f, batch([f.id], i)) for i, f in enumerate(facts)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            f, b = made[i]
            s.user("alice", MODEL).commit(add_facts=[f], add_batches=[b])
            s.user("alice", MODEL).record_sleep(i, i + 1, {"i": i})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s.close()

    m = UserMemory(tmp_path, "alice", MODEL)
    assert {f.id for f in m.facts()} == {f.id for f, _ in made}
    got = {b.id: b for b in m.batches()}
    assert set(got) == {b.id for _, b in made}
    for _, b in made:
        assert_same_batches([got[b.id]], [b])
    assert m.unwritten_facts() == []
    assert m.last_sleep() is not None
    m.close()


def test_the_ledger_size_counts_writes_still_in_its_log(mem: UserMemory) -> None:
    mem.commit(add_facts=[fact(f"city {i}", status=ACTIVE) for i in range(50)])
    main = mem._ledger
    log_file = main.with_name(main.name + "-wal")
    assert log_file.exists() and log_file.stat().st_size > 0  # not yet checkpointed
    assert mem.ledger_bytes() == main.stat().st_size + log_file.stat().st_size
