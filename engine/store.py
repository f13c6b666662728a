"""On-disk memory of each user: a SQLite ledger of facts and a safetensors file of edits.

Layout under the root folder::

    <root>/users/<user_dir>/ledger.sqlite               facts, sleeps, meta (raw user id)
    <root>/users/<user_dir>/deltas/<model_key>.safetensors   edit batches for one model

The ledger is the source of truth for *what* the user told us; the delta file is the source
of truth for *what is written into the weights* of one model. They cannot be written in one
atomic step, so ``UserMemory.commit`` always writes the ledger first and the delta file second
(atomically, via rename). A crash between the two leaves active facts that no batch covers;
``reconcile``/``unwritten_facts`` report them so the engine re-edits them. The same mechanism
makes switching models work: a new model's delta file starts empty, so every fact is unwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .deltas import EditBatch, checked_batch, read_delta_file, write_delta_file
from .errors import InputError, StoreError, UnknownFact
from .facts import ACTIVE, ARCHIVED, FORGOTTEN, STATUSES, SUPERSEDED, Fact

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: facts may be archived
WAL_LIMIT = 4 << 20  # bytes the write-ahead log keeps after a checkpoint
STORED_STATUSES = (ACTIVE, SUPERSEDED, FORGOTTEN, ARCHIVED)  # PENDING: on a Fact, never stored
_FACT_COLS = ("id", "text", "subject", "relation", "object", "answer", "questions", "statements",
              "slot", "source", "status", "created_at", "updated_at", "extractor")  # fmt: skip
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facts (
    id TEXT PRIMARY KEY, text TEXT NOT NULL, subject TEXT NOT NULL, relation TEXT NOT NULL,
    object TEXT NOT NULL, answer TEXT NOT NULL, questions TEXT NOT NULL, statements TEXT NOT NULL,
    slot TEXT NOT NULL, source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN {STORED_STATUSES!r}),
    created_at REAL NOT NULL, updated_at REAL NOT NULL, extractor TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS facts_status ON facts (status, created_at);
CREATE TABLE IF NOT EXISTS sleeps (id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL, finished_at REAL NOT NULL, report_json TEXT NOT NULL);
"""


def _check_id(value: object, what: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not 1 <= len(value) <= max_len:
        raise InputError(f"{what} must be 1 to {max_len} characters (after trimming spaces)")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise InputError(f"{what} {value!r} contains control characters")
    return value


def validate_user_id(user_id: object) -> str:
    """Reject ids a chat adapter should never pass; returns the id with outer spaces trimmed."""
    return _check_id(user_id, "user id", 256)


def _slug_hash(value: str) -> str:
    # The hash makes names unique and safe; the slug only helps a human browsing the folder.
    slug = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")[:32].strip("-_")
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
    return f"{slug}-{digest}" if slug else digest


def user_dir(user_id: str) -> str:
    """Folder name for a user: never a path separator, dot-name or reserved device name."""
    return _slug_hash(user_id)


def model_key(model_id: str) -> str:
    """File stem for a model identity string (repo id, path, gguf name...)."""
    return _slug_hash(model_id)


def _fact_row(f: Fact) -> tuple[Any, ...]:
    status = f.status if f.status in STORED_STATUSES else ACTIVE
    row = {c: getattr(f, c) for c in _FACT_COLS}
    row.update(questions=json.dumps(list(f.questions)), statements=json.dumps(list(f.statements)))
    return (*{**row, "status": status}.values(),)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a ledger of an older schema up to ``SCHEMA_VERSION``, in one transaction (a
    crash leaves the old ledger whole). 1 -> 2: the facts table's status CHECK admits
    'archived'; SQLite cannot alter a CHECK, so the table is rebuilt under the new schema.
    The version is read under the write lock: another process may have migrated first."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0])
        if version < 2:
            conn.execute("ALTER TABLE facts RENAME TO facts_v1")
            conn.execute("DROP INDEX IF EXISTS facts_status")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            cols = ", ".join(_FACT_COLS)
            conn.execute(f"INSERT INTO facts ({cols}) SELECT {cols} FROM facts_v1")
            conn.execute("DROP TABLE facts_v1")
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _row_fact(row: Sequence[Any]) -> Fact:
    d = dict(zip(_FACT_COLS, row, strict=True))
    d["questions"] = tuple(json.loads(d["questions"]))
    d["statements"] = tuple(json.loads(d["statements"]))
    return Fact(**d)


class UserMemory:
    """One user's facts and one model's edits. All methods are thread-safe (one lock)."""

    def __init__(self, root: Path, user_id: str, model_id: str) -> None:
        self._user_id = validate_user_id(user_id)
        self._model_id = _check_id(model_id, "model id", 1024)
        self._path = Path(root) / user_dir(self._user_id)
        self._ledger = self._path / "ledger.sqlite"
        self._delta = self._path / "deltas" / f"{model_key(self._model_id)}.safetensors"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._batches: list[EditBatch] | None = None
        self._reconciled = False

    @property
    def user_id(self) -> str:
        """The raw user id (outer spaces trimmed)."""
        return self._user_id

    @property
    def model_id(self) -> str:
        """The model whose delta file this memory reads and writes."""
        return self._model_id

    @property
    def path(self) -> Path:
        """This user's folder; it may not exist yet (nothing is created until a write)."""
        return self._path

    # ---- ledger -------------------------------------------------------------------------
    def _db(self, create: bool) -> sqlite3.Connection | None:
        """The open ledger, or None when it does not exist and ``create`` is False."""
        if self._conn is not None:
            return self._conn
        if not create and not self._ledger.exists():
            return None
        self._path.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self._ledger, timeout=30, isolation_level=None, check_same_thread=False
        )
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not tables:
                # before the first table, or never: pages freed by replaced edit keys (MBs
                # a sleep) go back to the file system (``reclaim``), not sit as free pages
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode=WAL")
            # a big write (a sleep's kept keys) grows the log; cut it back after checkpoints
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
            if not tables:  # new (or empty) file: create schema and meta in one transaction
                conn.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                meta_rows = [("schema_version", str(SCHEMA_VERSION)), ("user_id", self._user_id)]
                conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", meta_rows)
                conn.execute("COMMIT")
                tables = {"meta"}
            meta = dict(conn.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
            version = meta.get("schema_version", "")
            if not version.isdigit() or not 1 <= int(version) <= SCHEMA_VERSION:
                raise StoreError(
                    f"ledger {self._ledger} has schema version {version!r}; this "
                    f"sleepmem reads versions 1..{SCHEMA_VERSION} (newer sleepmem?)"
                )
            if meta.get("user_id") != self._user_id:
                raise StoreError(f"ledger {self._ledger} belongs to user {meta.get('user_id')!r}")
            if int(version) < SCHEMA_VERSION:
                _migrate(conn)
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"ledger {self._ledger} is unreadable or corrupt: {e}") from e
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @contextlib.contextmanager
    def ledger(
        self, create: bool = True, table: str | None = None
    ) -> Iterator[sqlite3.Connection | None]:
        """The ledger connection under this memory's lock, for tables other modules keep in
        it (the wake inbox, the v* cache); None when it does not exist and ``create`` is
        False. ``table``, a CREATE TABLE IF NOT EXISTS statement, is run first: ledgers
        written before that table existed gain it there. Each statement commits on its
        own; SQLite errors come out as StoreError."""
        with self._lock:
            try:
                conn = self._db(create=create)
                if conn is not None and table:
                    conn.execute(table)
                yield conn
            except sqlite3.DatabaseError as e:
                raise StoreError(f"ledger {self._ledger} is unreadable or corrupt: {e}") from e

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                conn = self._db(create=False)
                return [] if conn is None else conn.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as e:
                raise StoreError(f"ledger {self._ledger} is unreadable or corrupt: {e}") from e

    def facts(self, status: str | None = ACTIVE) -> list[Fact]:
        """Facts with this status (None: all), oldest first. 'pending' is never stored: []."""
        if status is not None and status not in STATUSES:
            raise InputError(f"unknown fact status {status!r}")
        where, args = ("", ()) if status is None else (" WHERE status = ?", (status,))
        rows = self._query(
            f"SELECT {', '.join(_FACT_COLS)} FROM facts{where} ORDER BY created_at, rowid", args
        )
        return [_row_fact(r) for r in rows]

    def get(self, fact_id: str) -> Fact:
        """One fact by id, any status; UnknownFact lets /forget report a typo clearly."""
        rows = self._query(f"SELECT {', '.join(_FACT_COLS)} FROM facts WHERE id = ?", (fact_id,))
        if not rows:
            raise UnknownFact(f"no fact with id {fact_id!r}")
        return _row_fact(rows[0])

    def find(self, text_or_id: str) -> list[Fact]:
        """Exact id (any status) first, else active or archived facts mentioning the query
        (any case): an archived fact is out of the weights but still the user's to forget."""
        query = text_or_id.strip()
        if not query:
            return []
        try:
            return [self.get(query)]
        except UnknownFact:
            q = query.casefold()
            return [
                f
                for f in self.facts() + self.facts(ARCHIVED)
                if q in f"{f.text}\n{f.object}\n{f.subject}".casefold()
            ]

    # ---- batches ------------------------------------------------------------------------
    def _load(self) -> list[EditBatch]:
        if self._batches is None:
            self._batches = read_delta_file(self._delta, self._model_id)
        return self._batches

    def _ensure_reconciled(self) -> None:
        if not self._reconciled:
            self.reconcile()

    def batches(self) -> list[EditBatch]:
        """This model's edits, oldest first (a copy of the list; arrays are read-only)."""
        with self._lock:
            self._ensure_reconciled()
            return list(self._load())

    def edit(self) -> EditBatch | None:
        """The one batch the engine keeps for this user and model, or None.

        Every engine commit replaces all batches with one that covers every active fact (a
        joint solve, or the live one with new facts' factors joined on), so a file with
        several was not written by the engine and is refused rather than half-read.
        """
        batches = self.batches()
        if len(batches) > 1:
            raise StoreError(
                f"{self._delta} holds {len(batches)} edit batches; sleepmem writes one per "
                "user and model (delete the file and the facts are re-edited)"
            )
        return batches[0] if batches else None

    def unwritten_facts(self) -> list[Fact]:
        """Active facts no batch covers: the engine must (re-)edit these into this model."""
        with self._lock:
            self._ensure_reconciled()
            covered = {fid for b in self._load() for fid in b.fact_ids}
            return [f for f in self.facts() if f.id not in covered]

    def reconcile(self) -> dict[str, list[str]]:
        """Drop batches with no active fact left and list active facts no batch covers.

        'stale_batches' lists kept batches that also cover non-active facts (e.g. a sleep
        batch where one fact was later forgotten): the engine should rewrite those.
        """
        with self._lock:
            batches = self._load()
            status = dict(self._query("SELECT id, status FROM facts"))
            dropped = [
                b.id for b in batches if not any(status.get(f) == ACTIVE for f in b.fact_ids)
            ]
            if dropped:
                self._commit_locked((), {}, (), dropped)
            self._reconciled = True
            covered = {fid for b in self._load() for fid in b.fact_ids}
            return {
                "unwritten": [f for f, s in status.items() if s == ACTIVE and f not in covered],
                "dropped_batches": dropped,
                "stale_batches": [
                    b.id for b in self._load() if any(status.get(f) != ACTIVE for f in b.fact_ids)
                ],
            }

    # ---- the single write path ----------------------------------------------------------
    def commit(
        self,
        *,
        add_facts: Iterable[Fact] = (),
        set_status: Mapping[str, str] | None = None,
        add_batches: Iterable[EditBatch] = (),
        remove_batch_ids: Iterable[str] = (),
    ) -> None:
        """Ledger transaction first, then the delta file; everything is validated up front."""
        with self._lock:
            self._ensure_reconciled()
            self._commit_locked(
                tuple(add_facts),
                dict(set_status or {}),
                tuple(add_batches),
                tuple(remove_batch_ids),
            )

    def _commit_locked(
        self,
        add_facts: tuple[Fact, ...],
        set_status: dict[str, str],
        add_batches: tuple[EditBatch, ...],
        remove_ids: tuple[str, ...],
    ) -> None:
        for f in add_facts:
            if not isinstance(f, Fact) or f.status not in STATUSES or not f.id:
                raise InputError(f"not a valid Fact to store: {f!r}")
        known = {r[0] for r in self._query("SELECT id FROM facts")} | {f.id for f in add_facts}
        for fid, st in set_status.items():
            if fid not in known:
                raise UnknownFact(f"no fact with id {fid!r}")
            if st not in STORED_STATUSES:
                raise InputError(f"cannot set fact {fid!r} to status {st!r}")
        old, removed = self._load(), set(remove_ids)
        kept = [b for b in old if b.id not in removed]
        shapes = {k: (r.shape[0], a.shape[0]) for b in kept for k, (r, a) in b.layers.items()}
        ids = {b.id for b in kept}
        new = kept + [checked_batch(b, known, shapes, ids) for b in add_batches]
        if add_facts or set_status:
            conn = self._db(create=True)
            assert conn is not None
            now = time.time()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    f"INSERT OR REPLACE INTO facts ({', '.join(_FACT_COLS)}) "
                    f"VALUES ({', '.join('?' * len(_FACT_COLS))})",
                    [_fact_row(f) for f in add_facts],
                )
                conn.executemany(
                    "UPDATE facts SET status = ?, updated_at = ? WHERE id = ?",
                    [(st, now, fid) for fid, st in set_status.items()],
                )
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"could not write ledger {self._ledger}: {e}") from e
        if len(new) == len(old) and all(a is b for a, b in zip(new, old, strict=True)):
            return
        try:
            write_delta_file(self._delta, self._model_id, new)
        except Exception as e:
            raise StoreError(
                f"facts were saved but the edit file {self._delta} could not be "
                f"written ({e}); they will be re-edited"
            ) from e
        self._batches = new

    def forget_all(self) -> None:
        """Forget every active, archived or superseded fact and empty this model's delta file."""
        with self._lock:
            self._ensure_reconciled()  # so that _load() below sees the batches commit will see
            ids = [f.id for f in self.facts(None) if f.status != FORGOTTEN]
            self.commit(
                set_status=dict.fromkeys(ids, FORGOTTEN),
                remove_batch_ids=[b.id for b in self._load()],
            )

    # ---- sleeps & misc ------------------------------------------------------------------
    def record_sleep(self, started_at: float, finished_at: float, report: dict[str, Any]) -> int:
        """Log a consolidation run (for /status and scheduling); returns its row id."""
        try:
            report_json = json.dumps(report)
        except (TypeError, ValueError) as e:
            raise InputError(f"sleep report is not JSON-serialisable: {e}") from e
        with self._lock:
            conn = self._db(create=True)
            assert conn is not None
            try:
                cur = conn.execute(
                    "INSERT INTO sleeps (started_at, finished_at, report_json) VALUES (?, ?, ?)",
                    (started_at, finished_at, report_json),
                )
            except sqlite3.DatabaseError as e:
                raise StoreError(f"could not write ledger {self._ledger}: {e}") from e
            return int(cur.lastrowid or 0)

    def last_sleep(self) -> dict[str, Any] | None:
        """The latest sleep as {id, started_at, finished_at, report}, or None."""
        rows = self._query(
            "SELECT id, started_at, finished_at, report_json FROM sleeps ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        sleep: dict[str, Any] = dict(
            zip(("id", "started_at", "finished_at"), rows[0], strict=False)
        )
        return {**sleep, "report": json.loads(rows[0][3])}

    def sleeps(self) -> list[dict[str, Any]]:
        """Every sleep, oldest first, each as ``last_sleep`` returns it (the history)."""
        rows = self._query(
            "SELECT id, started_at, finished_at, report_json FROM sleeps ORDER BY id"
        )
        keys = ("id", "started_at", "finished_at")
        return [{**dict(zip(keys, r[:3])), "report": json.loads(r[3])} for r in rows]

    def bytes_on_disk(self) -> int:
        """Size of this model's delta file (what the edits cost on disk)."""
        return self._delta.stat().st_size if self._delta.exists() else 0

    def reclaim(self) -> None:
        """Give the pages deleted rows left free back to the file system (ledgers created
        before incremental auto-vacuum keep reusing them instead)."""
        with self.ledger(create=False) as conn:
            if conn is not None:
                # run to the end: a plain execute steps once, which frees one page
                conn.executescript("PRAGMA incremental_vacuum;")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def ledger_bytes(self) -> int:
        """Size of the ledger (facts, the wake inbox, v* and the kept edit keys), with its
        write-ahead log: recent writes stay there until SQLite checkpoints them."""
        files = (self._ledger, self._ledger.with_name(self._ledger.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    def close(self) -> None:
        """Close the ledger connection; the object reopens it lazily if used again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class MemoryStore:
    """All users under one root (``paths.users_dir``, a folder each); hands out one shared
    UserMemory per (user, model)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._users: dict[tuple[str, str], UserMemory] = {}
        adopt_nested(self.root)

    def user(self, user_id: str, model_id: str) -> UserMemory:
        """The shared UserMemory: one object (one lock) per user and model keeps writes safe."""
        key = (validate_user_id(user_id), _check_id(model_id, "model id", 1024))
        with self._lock:
            if key not in self._users:
                self._users[key] = UserMemory(self.root, *key)
            return self._users[key]

    def users(self) -> list[str]:
        """Raw ids of every user with a ledger (read-only; a broken ledger raises)."""
        found = []
        base = self.root
        for ledger in sorted(base.glob("*/ledger.sqlite")) if base.is_dir() else []:
            try:
                conn = sqlite3.connect(ledger.resolve().as_uri() + "?mode=ro", uri=True)
                try:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'user_id'").fetchone()
                finally:
                    conn.close()
            except sqlite3.DatabaseError as e:
                raise StoreError(f"ledger {ledger} is unreadable or corrupt: {e}") from e
            if row:
                found.append(row[0])
        return sorted(found)

    def close(self) -> None:
        """Close every UserMemory handed out and forget them."""
        with self._lock:
            for memory in self._users.values():
                memory.close()
            self._users.clear()


def adopt_nested(root: Path) -> list[str]:
    """Move user folders from ``root/users/`` up into ``root``; the names of those moved.

    Versions up to 0.1.0 kept each user one folder too deep (``~/.sleepmem/users/users/``,
    not the ``users/<user>-<hash>/`` the README shows). A user folder is always
    ``<name>-<hash>``, so the bare name ``users`` is never a user's own. A folder that
    exists in both places is left where it is (and reported) rather than merged.
    """
    nested = root / "users"
    if not nested.is_dir():
        return []
    moved = []
    for child in sorted(nested.iterdir()):
        target = root / child.name
        if not (child / "ledger.sqlite").exists():
            continue
        if target.exists():
            log.warning("user folder %s also exists at %s; left in place", child, target)
            continue
        child.rename(target)
        moved.append(child.name)
    with contextlib.suppress(OSError):
        nested.rmdir()  # only when nothing is left in it
    if moved:
        log.info("moved %d user folders from %s up into %s", len(moved), nested, root)
    return moved
