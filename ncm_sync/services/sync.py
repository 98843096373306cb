"""The sync engine: list every mirrored resource of one tenant from NCM and upsert it, exactly and cheaply.

- Each resource is listed to its end (`NcmClient.iter_pages`, 500 a page) and written page by page: memory
  stays flat whatever the fleet size.
- A row is written only when its NCM content changed (a hash of the object is kept on the row); an unchanged
  resync writes nothing.
- Independent resources are listed concurrently (threads, each with its own DB connection), all within the
  credential's shared rate budget.
- Links between rows (router.group, net_device.router, ...) resolve from in-memory ncm_id -> pk maps while
  writing, and whatever could not be resolved yet (its parent arrived later in the same run) in one bulk pass
  at the end.
- Rows NCM no longer returns are tombstoned only after *every* listing of the run completed: a failed run
  deletes nothing.
- Alerts are history: listed incrementally after the stored `created_at_timeuuid` cursor, never tombstoned.
- A scheduled light sync (`runs.plan_sync`) lists routers and modem metrics by their changes only (NCM's
  `updated_at__gt`, `state_updated_at__gt`, `update_ts__gt` after `SyncState.change_cursors`) and tombstones
  none of them; every NCM_FULL_SYNC_MINUTES, and on every requested sync, everything is listed completely.
"""
from __future__ import annotations

import logging
import operator
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from datetime import timedelta, timezone as dt_timezone

import msgspec
import xxhash

from django.conf import settings
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import Case, CharField, F, Max, Value, When
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ncm_sync.client import NcmClient
from ncm_sync.models import (
    MIRRORED_MODELS,
    Account,
    Alert,
    ConfigurationManager,
    Group,
    Location,
    MirroredModel,
    NetDevice,
    NetDeviceHealth,
    NetDeviceMetrics,
    Router,
    SyncState,
)
from portal import fastjson

logger = logging.getLogger(__name__)

__all__ = ["TenantSync", "content_hash", "ResourceStats", "SyncCancelled", "CHANGE_FILTERS"]

BATCH = 500
# Rows of the whole run that may wait in memory for a link target still being listed (a first sync's modems,
# alerts, ... while the routers list). Past it a listing pauses until its targets are complete: memory stays
# bounded however large the fleet, and the pause leaves the CPU to the listings everything else waits for.
DEFERRED_ROWS = max(BATCH, int(os.environ.get("NCM_SYNC_DEFERRED_ROWS", "20000")))
MODELS_BY_NAME = {model.__name__: model for model in MIRRORED_MODELS}
# NCM's documented "changed after" filters (seed 001): a light sync lists these resources by them.
CHANGE_FILTERS = {
    Router: ("updated_at__gt", "state_updated_at__gt"),
    NetDeviceMetrics: ("update_ts__gt",),
}


class SyncCancelled(Exception):
    """Another listing of the run failed; this one stopped early."""


def serialize(obj: dict) -> bytes:
    """The canonical bytes of an NCM object (compact UTF-8 JSON, NCM's key order, by orjson: ~10x the standard
    library): hashed for change detection and, for a row that changed, stored as the row's JSON."""
    return fastjson.dumps(obj)


def content_hash(obj: dict, text: bytes | str | None = None) -> str:
    """A 128-bit digest of the object's bytes, for change detection only (nothing here needs it to resist an
    adversary): xxh3 takes ~0.2 us a row where blake2b took ~2.5 us, a tenth of an unchanged resync's CPU.
    NCM sends keys in a stable order; a reordering would only cost one rewrite of the row."""
    if text is None:
        text = serialize(obj)
    return xxhash.xxh3_128_hexdigest(text.encode() if isinstance(text, str) else text)


@dataclass
class ResourceStats:
    fetched: int = 0
    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    links_resolved: int = 0
    seconds: float = 0.0
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0
    paused_seconds: float = 0.0  # waiting for link targets, too many rows of the run waiting in memory
    changes_only: bool = False  # listed by NCM's "changed after" filters (a light sync): nothing tombstoned

    @property
    def wrote(self) -> bool:
        """Whether the listing wrote any row (created, updated, tombstoned or linked)."""
        return bool(self.created or self.updated or self.deleted or self.links_resolved)

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class IdMaps:
    """ncm_id -> pk per mirrored model, shared by the run's threads (plain dict operations are atomic)."""

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id
        self.maps: dict[str, dict[str, int]] = {}

    def get(self, model_name: str) -> dict[str, int]:
        return self.maps.setdefault(model_name, {})


class _ResourceWriter:
    """Upserts one resource's pages for one tenant."""

    def __init__(self, model: type[MirroredModel], tenant_id: int, now, idmaps: IdMaps, enrich=None,
                 is_complete=None):
        self.model = model
        self.enrich = enrich
        self.is_complete = is_complete or (lambda name: True)
        self.deferred: list[dict] = []
        self.tenant_id = tenant_id
        self.now = now
        self.idmaps = idmaps
        self.stats = ResourceStats()
        self.partial = False
        self.seen: set[str] = set()
        # What the mirror holds: ncm_id -> content hash of a live row, "" of a tombstoned one (which then never
        # matches: listed again, it is rewritten and revived); its pk is in the run's id map (`self.pks`).
        self.hashes: dict[str, str] = {}
        self.pks = idmaps.get(model.__name__)
        self._load_mirror()
        sample = model.columns({})
        self.column_names = list(sample)
        self.update_fields = ["data", "content_hash", "last_seen_at", "deleted_at", *self.column_names,
                              *[f"{name}_id" for name in model.RELATIONS]]
        self.ncm_id_of = getattr(model, "ncm_id_of", None) or (lambda obj: str(obj.get("id") or ""))
        self.keep_bytes_only = connection.vendor == "postgresql"
        self.raw_ids = getattr(model, "ncm_id_of", None) is None  # the id is the object's "id"
        # (link column, ncm id column, target model, the target's ncm_id -> pk map filled as this run writes it)
        self.relations = [(f"{name}_id", ncm_column, target, idmaps.get(target))
                          for name, (ncm_column, target) in model.RELATIONS.items()]
        # Nothing mirrored yet (a first sync): every object is new, so each is decoded once, whole, instead of
        # having its id parsed out first.
        self.all_new = not self.hashes
        self._flushed_with = None  # which link targets were complete when the deferred rows were last checked

    def item_id(self, item) -> str:
        """The ncm_id of a decoded object or of an object still in NCM's bytes (`msgspec.Raw`)."""
        if isinstance(item, msgspec.Raw):
            if self.raw_ids:
                return _raw_id(item)
            item = fastjson.loads(memoryview(item))
        return self.ncm_id_of(item)

    def write_page(self, objects: list) -> None:
        """Write a page's new and changed rows. A row linking to a row of a resource still being listed in
        this run (and not yet seen) waits in memory until that listing completes, so it is written once,
        with its link, instead of twice.

        Objects are dicts, or (the fast path) the bytes NCM sent (`msgspec.Raw`): then the change is detected
        on those bytes (only the id is parsed out of them) and only a new or changed object is decoded."""
        self.stats.pages += 1
        self.stats.fetched += len(objects)
        rows: dict[str, dict] = {}
        for item in objects:
            if isinstance(item, msgspec.Raw):
                text = bytes(item)
                obj = None if self.raw_ids and not self.all_new else fastjson.loads(text)
                ncm_id = _raw_id(item) if obj is None else self.ncm_id_of(obj)
            else:
                obj = item
                ncm_id = self.ncm_id_of(obj)
                text = None
            if not ncm_id:
                logger.warning("NCM %s object without an id skipped", self.model.RESOURCE)
                continue
            # A row listed twice (an offset page shifted under a concurrent change): the later copy wins.
            self.seen.add(ncm_id)
            if text is None:
                text = serialize(obj)
            digest = content_hash(None, text)
            current = self.hashes.get(ncm_id)
            if current == digest:
                self.stats.unchanged += 1
                continue
            if obj is None:
                obj = fastjson.loads(text)
            columns = self.model.columns(obj)
            if self.enrich is not None:
                self.enrich(self.model, columns)
            # PostgreSQL stores the bytes already made for the hash: a row waiting for its link target keeps
            # those (compact) instead of the decoded object (a dict several times their size).
            row = {"ncm_id": ncm_id, "data": None if self.keep_bytes_only else obj, "content_hash": digest,
                   "last_seen_at": self.now, "deleted_at": None, **columns}
            row["_text"] = text
            if current is not None:
                row["id"] = self.pks[ncm_id]
            rows[ncm_id] = row
        ready = [row for row in rows.values() if self._resolve(row)]
        self.deferred.extend(row for row in rows.values() if "_links" not in row)
        self._store(ready)
        self.flush(force=False)

    def _resolve(self, row: dict) -> bool:
        """Set the row's links; False (and nothing set) while a target may still arrive in this run."""
        links = {}
        for attname, ncm_column, target, targets in self.relations:
            ref = row[ncm_column]
            pk = targets.get(ref) if ref else None
            if pk is None and ref and not self.is_complete(target):
                return False
            links[attname] = pk
        row.update(links)
        row["_links"] = True
        return True

    def flush(self, force: bool) -> None:
        """Write deferred rows whose targets are now known (all of them when `force`)."""
        if not self.deferred:
            return
        completed = tuple(self.is_complete(target) for _attname, _column, target, _targets in self.relations)
        known = sum(len(targets) for _attname, _column, _target, targets in self.relations)
        if not force and self._flushed_with is not None:
            was_completed, was_known = self._flushed_with
            if completed == was_completed and known < was_known + 4 * BATCH:
                # Rechecking every waiting row after every page made a first sync's net devices quadratic: they
                # are rechecked when a target listing completed or a few target pages arrived (memory stays low).
                return
        self._flushed_with = (completed, known)
        ready, waiting = [], []
        for row in self.deferred:
            if self._resolve(row):
                ready.append(row)
            elif force:
                for attname, _ncm_column, _target, _targets in self.relations:
                    row[attname] = None
                row["_links"] = True
                ready.append(row)
            else:
                waiting.append(row)
        self.deferred = waiting
        for start in range(0, len(ready), BATCH):
            self._store(ready[start:start + BATCH])

    def _store(self, rows: list[dict]) -> None:
        if not rows:
            return
        creates = [row for row in rows if "id" not in row]
        updates = [row for row in rows if "id" in row]
        store = _store_postgresql if connection.vendor == "postgresql" else _store_orm
        created_pks = store(self, creates, updates)
        self.pks.update(created_pks)
        for row in rows:
            self.hashes[row["ncm_id"]] = row["content_hash"]
        self.stats.created += len(creates)
        self.stats.updated += len(updates)

    def _load_mirror(self) -> None:
        """The tenant's rows of this model: ncm_id, pk and hash only, fetched in chunks by one plain query
        (an ORM iterator building a tuple and an object per row was half an unchanged resync's CPU)."""
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT ncm_id, id, CASE WHEN deleted_at IS NULL THEN content_hash ELSE '' END "
                           f"FROM {table} WHERE tenant_id = %s", [self.tenant_id])
            while chunk := cursor.fetchmany(20000):
                self.pks.update(map(_ID_PK, chunk))  # C-level loops: no Python per row
                self.hashes.update(map(_ID_HASH, chunk))

    def live_count(self) -> int:
        return len(self.hashes) - list(self.hashes.values()).count("")

    def missing(self) -> list[str]:
        """The ncm_ids of live rows this run's listing did not return (none for a listing of changes only: what
        was not listed did not change, it was not deleted)."""
        if self.partial:
            return []
        return [ncm_id for ncm_id in self.hashes.keys() - self.seen if self.hashes[ncm_id]]  # a set difference in C

    def tombstones(self) -> list[int]:
        return [self.pks[ncm_id] for ncm_id in self.missing()]


def _store_orm(writer: _ResourceWriter, creates: list[dict], updates: list[dict]) -> dict[str, int]:
    """Any database: bulk_create / bulk_update. Returns {ncm_id: pk} of the created rows."""
    model = writer.model
    creates = [_public(row) for row in creates]
    updates = [_public(row) for row in updates]
    with transaction.atomic():
        made = model.objects.bulk_create(
            [model(tenant_id=writer.tenant_id, first_seen_at=writer.now, **row) for row in creates], batch_size=BATCH
        )
        if updates:
            model.objects.bulk_update([model(**row) for row in updates], writer.update_fields, batch_size=BATCH)
    if made and all(row.pk for row in made):
        return {row.ncm_id: row.pk for row in made}
    return dict(model.objects.filter(tenant_id=writer.tenant_id, ncm_id__in=[r["ncm_id"] for r in creates])
                .values_list("ncm_id", "pk"))


_ID_PK, _ID_HASH = operator.itemgetter(0, 1), operator.itemgetter(0, 2)


class _Id(msgspec.Struct):
    id: Any = None


_ID = msgspec.json.Decoder(_Id)


def _raw_id(raw) -> str:
    """`str(obj["id"] or "")` of an object still in NCM's bytes (every other key is skipped, not decoded)."""
    value = _ID.decode(raw).id
    return str(value) if value else ""


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _json_dumps(value) -> bytes:
    """psycopg's JSON dumper for the COPYs below: `data` arrives as the bytes already made for the hash (PostgreSQL
    parses them into jsonb); any other JSON value is encoded here."""
    return value if isinstance(value, bytes) else fastjson.dumps(value)


_column_types: dict[str, dict[str, int]] = {}


def _types_of(cursor, table: str, columns) -> dict[str, int]:
    """column -> type oid of a table, read once per process (again if a column is new to it, as after a
    migration the worker outlived): a binary COPY must declare every column's type."""
    types = _column_types.get(table)
    if types is None or any(column not in types for column in columns):
        cursor.execute("SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass "
                       "AND attnum > 0 AND NOT attisdropped", [table])
        types = _column_types[table] = dict(cursor.fetchall())
    return types


def _copy_rows(raw, table: str, fields, types: dict[str, int], rows) -> None:
    """COPY `rows` (value lists in `fields` order) in PostgreSQL's binary format: nothing is escaped on our side
    or parsed back from text on the server's (for a page of modems ~3x less of the worker's CPU, ~25 % less of
    PostgreSQL's than the text format)."""
    from psycopg.types.json import set_json_dumps

    set_json_dumps(_json_dumps, context=raw)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with raw.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([types[f.column] for f in fields])
        for values in rows:
            copy.write_row(values)


def _store_postgresql(writer: _ResourceWriter, creates: list[dict], updates: list[dict]) -> dict[str, int]:
    """PostgreSQL: COPY new rows in; COPY changed rows into a temporary table and UPDATE ... FROM it.

    Several times faster than bulk_create/bulk_update for 500-row pages of wide JSON rows.
    """
    model = writer.model
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        # A page's commit does not wait for its WAL flush: the mirror is re-derived from NCM by the next sync,
        # so a crash that loses the last few hundred ms of pages costs nothing but that sync. (Tombstones and the
        # sync state keep the default.)
        cursor.execute("SET LOCAL synchronous_commit TO off")
        types = _types_of(cursor, meta.db_table, [f.column for f in meta.concrete_fields])
        created = {}
        if creates:
            # The new rows' ids are taken from the table's sequence first, so nothing has to be read back.
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [meta.db_table, len(creates)])
            created = {row["ncm_id"]: pk for row, (pk,) in zip(creates, cursor.fetchall())}
            names = [n for n in _public(creates[0]) if n != "data"]
            fields = [meta.get_field(n) for n in ("id", "tenant_id", "first_seen_at", "data", *names)]
            tenant_id, now = writer.tenant_id, writer.now
            _copy_rows(raw, table, fields, types, (
                [created[row["ncm_id"]], tenant_id, now, row["_text"], *[row[n] for n in names]] for row in creates))
        if updates:
            names = [n for n in writer.update_fields if n != "data"]
            fields = [meta.get_field(n) for n in ("id", "data", *names)]
            quoted = [connection.ops.quote_name(f.column) for f in fields]
            temp = connection.ops.quote_name(f"ncm_upd_{meta.db_table}")
            cursor.execute(f"DROP TABLE IF EXISTS {temp}")
            cursor.execute(f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS SELECT {', '.join(quoted)} FROM {table} WITH NO DATA")
            _copy_rows(raw, temp, fields, types, ([row["id"], row["_text"], *[row[n] for n in names]] for row in updates))
            assign = ", ".join(f"{q} = s.{q}" for q in quoted[1:])
            cursor.execute(f"UPDATE {table} AS t SET {assign} FROM {temp} AS s WHERE t.id = s.id")
        return created


@dataclass
class TenantSync:
    """One sync of one tenant. `run()` returns per-resource stats or raises (NcmError, SyncCancelled...)."""

    tenant_id: int
    client: NcmClient
    workers: int = 0
    resources: list[type[MirroredModel]] = field(default_factory=lambda: list(MIRRORED_MODELS))
    # Resources listed by their changes only (a scheduled light sync, `runs.plan_sync`): per model, one filter
    # per listing (e.g. routers by updated_at__gt and by state_updated_at__gt). Never tombstones their rows.
    changed_since: dict = field(default_factory=dict)

    def __post_init__(self):
        self.workers = self.workers or int(
            getattr(settings, "NCM_SYNC_CONCURRENCY", None) or os.environ.get("NCM_SYNC_CONCURRENCY") or 8
        )
        self.now = timezone.now()
        self.idmaps = IdMaps(self.tenant_id)
        self.writers: dict[type[MirroredModel], _ResourceWriter] = {}
        self.stats: dict[str, ResourceStats] = {}
        self._cancel = threading.Event()
        self.completed: set[str] = set()
        self._progress = threading.Condition()  # notified when a listing completes
        self._listed = frozenset(m.__name__ for m in self.resources)
        self.alerts_cursor = ""
        self.new_alerts_cursor = ""

    #
    # Listing
    #
    def _filters_for(self, model) -> dict:
        if model is Alert and self.alerts_cursor:
            return {"created_at_timeuuid__gt": self.alerts_cursor}
        return {}

    def _sync_resource(self, model: type[MirroredModel], threaded: bool) -> None:
        started = time.monotonic()
        try:
            writer = _ResourceWriter(model, self.tenant_id, self.now, self.idmaps, self._enrich, self._is_complete)
            self.writers[model] = writer
            self.stats[model.RESOURCE] = writer.stats
            mark = time.monotonic()
            filters = self._filters_for(model)
            targets = [target for _column, target in model.RELATIONS.values()]
            if model is Alert:  # a cursor listing (newest first): one page after another
                listing = self.client.iter_pages(model.RESOURCE, **filters)
            elif model in self.changed_since:
                writer.partial = writer.stats.changes_only = True
                listing = self._changes(model, writer, self.changed_since[model])
            else:
                # As many rows as the mirror holds are expected: those pages are asked several at a time.
                expected = writer.live_count()
                listing = self.client.iter_pages_parallel(model.RESOURCE, expected, raw=True, **filters)
            pages = _prefetched(listing, self._cancel)
            for page in pages:
                if self._cancel.is_set():
                    raise SyncCancelled(model.RESOURCE)
                fetched = time.monotonic()
                writer.stats.fetch_seconds += fetched - mark
                if writer.stats.pages == 0 and model in (Router, Group):
                    self._learn_names(model, page)
                writer.write_page(page)
                paused = 0.0
                if threaded and writer.deferred and self._deferred_rows() > DEFERRED_ROWS:
                    paused = time.monotonic()
                    self._await_complete(targets)
                    paused = time.monotonic() - paused
                    writer.stats.paused_seconds += paused
                    writer.flush(force=False)
                mark = time.monotonic()
                writer.stats.write_seconds += mark - fetched - paused
                if model is Alert:
                    self._advance_alert_cursor(page)
            with self._progress:
                self.completed.add(model.__name__)
                self._progress.notify_all()
            if threaded and writer.deferred:
                # Rows waiting for a link target still being listed are written here, in this thread, once the
                # targets are complete: not one after another at the end of the run.
                self._await_complete(targets)
            writer.flush(force=False)
        except BaseException:
            self._cancel.set()
            raise
        finally:
            if model.RESOURCE in self.stats:
                self.stats[model.RESOURCE].seconds = time.monotonic() - started
            if threaded:
                connections.close_all()

    def _changes(self, model, writer: "_ResourceWriter", filters: list[dict]):
        """Pages of the rows changed after the cursors, one listing per filter, each row once."""
        yielded: set[str] = set()
        for one in filters:
            for page in self.client.iter_pages(model.RESOURCE, raw=True, **one):
                fresh = []
                for item in page:
                    ncm_id = writer.item_id(item)
                    if ncm_id not in yielded:
                        yielded.add(ncm_id)
                        fresh.append(item)
                yield fresh

    def _learn_names(self, model, page: list[dict]) -> None:
        """Firmware versions and product names for the ids on a first page, fetched before it is written
        (one `id__in` call each, only for ids never seen), so rows are written once with their names."""
        from ncm_sync.models import ncm_ref

        page = [fastjson.loads(memoryview(item)) if isinstance(item, msgspec.Raw) else item for item in page]
        wanted = {"firmwares": (self.firmware_versions, "version", ("actual_firmware", "target_firmware"))}
        if model is Group:
            wanted["products"] = (self.product_names, "name", ("product",))
        for resource, (known, attribute, keys) in wanted.items():
            unknown = sorted({ncm_ref(obj.get(key)) for obj in page for key in keys} - set(known) - {""})
            if unknown:
                for names_page in self.client.iter_pages(resource, id__in=unknown):
                    for obj in names_page:
                        known[str(obj.get("id"))] = str(obj.get(attribute) or "")

    def _await_complete(self, names: list[str]) -> None:
        """Wait until the named resources are listed to their end. Deadlock-free: a resource is only linked to
        resources before it in MIRRORED_MODELS, submitted (and so started) earlier in the same FIFO pool."""
        with self._progress:
            while not all(self._is_complete(name) for name in names):
                if self._cancel.is_set():
                    raise SyncCancelled("cancelled")
                self._progress.wait(timeout=0.5)

    def _deferred_rows(self) -> int:
        return sum(len(writer.deferred) for writer in list(self.writers.values()))

    def _is_complete(self, model_name: str) -> bool:
        """True once the named resource has been listed to its end in this run (or is not listed in it)."""
        return model_name in self.completed or model_name not in self._listed

    def _enrich(self, model, columns: dict) -> None:
        """Fill the firmware version and product name columns from the names already known."""
        if model is Router:
            columns["firmware"] = self.firmware_versions.get(columns["actual_firmware_ncm_id"], columns["firmware"])[:64]
        elif model is Group:
            columns["firmware"] = self.firmware_versions.get(columns["target_firmware_ncm_id"], columns["firmware"])[:64]
            columns["product"] = self.product_names.get(columns["product_ncm_id"], columns["product"])[:100]

    def _advance_alert_cursor(self, page: list[dict]) -> None:
        values = [value for obj in page if (value := str(obj.get("created_at_timeuuid") or ""))]
        if not values:
            return
        newest = max(values, key=_timeuuid_key)  # one parse per alert, the cursor's own once per page
        if not self.new_alerts_cursor or _timeuuid_key(newest) > _timeuuid_key(self.new_alerts_cursor):
            self.new_alerts_cursor = newest

    def run(self) -> dict[str, ResourceStats]:
        state, _ = SyncState.objects.get_or_create(tenant_id=self.tenant_id)
        self.alerts_cursor = state.alerts_cursor
        self.new_alerts_cursor = state.alerts_cursor
        self.firmware_versions = dict(state.firmware_versions or {})
        self.product_names = dict(state.product_names or {})
        # Accounts first, on their own: one call that proves the keys work (a rejected credential costs one
        # call, not one per resource) and fills the account map; then everything else concurrently.
        first, rest = self.resources[:1], self.resources[1:]
        for model in first:
            self._sync_resource(model, threaded=False)
        if self.workers <= 1:
            for model in rest:
                self._sync_resource(model, threaded=False)
        else:
            self._run_concurrently(rest)
        for writer in self.writers.values():
            writer.flush(force=True)
        self._resolve_links()
        self._confirm_missing()
        lookups = self._resolve_names(state)
        self._tombstone()
        changes = {}
        if self.new_alerts_cursor != state.alerts_cursor:
            changes["alerts_cursor"] = self.new_alerts_cursor
        if lookups != (state.firmware_versions or {}, state.product_names or {}):
            changes["firmware_versions"], changes["product_names"] = lookups
        if set(MIRRORED_MODELS) <= set(self.resources) and not self.changed_since:
            changes["full_sync_at"] = self.now
        cursors = self._change_cursors()
        if cursors != (state.change_cursors or {}):
            changes["change_cursors"] = cursors
        if changes:
            SyncState.objects.filter(pk=state.pk).update(**changes)
        return self.stats

    def stats_written(self) -> bool:
        """Whether this run wrote any mirror row so far."""
        return any(s.wrote for s in list(self.stats.values()))

    def _change_cursors(self) -> dict[str, str]:
        """For the next scheduled light sync: per incremental filter, NCM's newest timestamp in the mirror (NCM's
        clock) less an overlap (NCM_CHANGE_OVERLAP_SECONDS plus this run's length), so a row NCM changed while this
        run was listing is listed again rather than missed."""
        overlap = timedelta(seconds=settings.NCM_CHANGE_OVERLAP_SECONDS) + (timezone.now() - self.now)
        cursors = {}
        for model, filters in CHANGE_FILTERS.items():
            fields = {name.removesuffix("__gt"): name for name in filters}  # updated_at -> updated_at__gt
            newest_of = model.objects.filter(tenant_id=self.tenant_id, deleted_at__isnull=True).aggregate(**{
                field: Max(KT(f"data__{field}")) for field in fields})
            for field, newest in newest_of.items():
                name = fields[field]
                try:
                    when = parse_datetime(newest) if newest else None
                except ValueError:  # not a timestamp: no cursor, so the next scheduled sync lists it completely
                    when = None
                if when is not None:
                    if timezone.is_naive(when):  # NCM's naive timestamps are UTC
                        when = when.replace(tzinfo=dt_timezone.utc)
                    # Never after this run's start on the portal's clock: a row stamped in the future (a clock
                    # ahead) must not hide the changes made until then; an earlier cursor only lists more.
                    cursors[f"{model.RESOURCE}.{name}"] = (min(when, self.now) - overlap).isoformat()
        return cursors

    def _run_concurrently(self, models) -> None:
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"ncm-sync-{self.tenant_id}") as pool:
            futures = [pool.submit(self._threaded, model) for model in models]
            for future in futures:
                try:
                    future.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised below, first real error wins
                    errors.append(exc)
        if errors:
            real = [e for e in errors if not isinstance(e, SyncCancelled)]
            raise (real or errors)[0]

    def _threaded(self, model) -> None:
        close_old_connections()
        self._sync_resource(model, threaded=True)

    #
    # Finishing (only after every listing completed)
    #
    def _resolve_links(self) -> None:
        """Links whose target arrived after the row (same run) or that earlier runs left dangling: one
        set-based UPDATE ... FROM per relation (PostgreSQL, and SQLite >= 3.33), touching only unresolved rows."""
        q = connection.ops.quote_name
        with connection.cursor() as cursor:
            for model in self.resources:
                for name, (ncm_column, target) in model.RELATIONS.items():
                    child = q(model._meta.db_table)
                    parent = q(MODELS_BY_NAME[target]._meta.db_table)
                    fk = q(model._meta.get_field(name).column)
                    ref = q(model._meta.get_field(ncm_column).column)
                    alias = "p"
                    cursor.execute(
                        f"UPDATE {child} SET {fk} = {alias}.id FROM {parent} AS {alias} "
                        f"WHERE {child}.tenant_id = %s AND {child}.{fk} IS NULL AND {child}.{ref} <> '' "
                        f"AND {alias}.tenant_id = %s AND {alias}.ncm_id = {child}.{ref}",
                        [self.tenant_id, self.tenant_id],
                    )
                    stats = self.stats.get(model.RESOURCE)
                    if stats is not None and cursor.rowcount > 0:
                        stats.links_resolved += cursor.rowcount

    def _confirm_missing(self) -> None:
        """Rows a listing did not return are looked up by id before being tombstoned.

        Offset paging over a list that changes while it is read can skip a row (a deletion on an earlier page
        shifts the rest up); asking for the missing ids (100 per call, usually none at all) makes sure only
        rows NCM really no longer has are tombstoned.
        """
        for model, writer in self.writers.items():
            if model is Alert:
                continue
            ids = writer.missing()
            if not ids:
                continue
            wanted = set(ids)
            found = []
            for page in self.client.iter_pages(model.RESOURCE, raw=True, id__in=ids):  # hashed like the listing
                found.extend(item for item in page if writer.item_id(item) in wanted)
            if found:
                writer.write_page(found)
                writer.stats.pages -= 1
                writer.stats.fetched -= len(found)

    def _resolve_names(self, state: SyncState) -> tuple[dict, dict]:
        """Firmware versions and product names (global NCM objects, immutable per id) for the filter columns.

        Only ids never seen before are fetched (`id__in`, 100 per call): an unchanged resync costs nothing.
        """
        firmware = self.firmware_versions
        products = self.product_names
        wanted = {
            "firmwares": (firmware, "version", [(Router, "actual_firmware_ncm_id", "firmware"),
                                                (Group, "target_firmware_ncm_id", "firmware")]),
            "products": (products, "name", [(Group, "product_ncm_id", "product")]),
        }
        for resource, (known, attribute, targets) in wanted.items():
            ids_of = {}
            for model, id_column, _column in targets:
                # order_by(): the model's default ordering (tenant_id, id) would join the DISTINCT and return a
                # row per router instead of a row per firmware.
                ids_of[model, id_column] = set(
                    model.objects.filter(tenant_id=self.tenant_id).exclude(**{id_column: ""}).order_by()
                    .values_list(id_column, flat=True).distinct())
            unknown = sorted(set().union(*ids_of.values()) - set(known))
            if unknown:
                for page in self.client.iter_pages(resource, id__in=unknown):
                    for obj in page:
                        known[str(obj.get("id"))] = str(obj.get(attribute) or "")
            if not unknown and not any(self._wrote(model) for model, _i, _c in targets):
                continue  # nothing new to name: an unchanged resync writes nothing here
            for model, id_column, column in targets:
                ids = ids_of[model, id_column]
                if not ids:
                    continue
                # One UPDATE per column, not one per id (each of which scanned the tenant's rows).
                length = model._meta.get_field(column).max_length
                name = Case(*[When(**{id_column: ref}, then=Value(known.get(ref, "")[:length])) for ref in sorted(ids)],
                            default=F(column), output_field=CharField())
                changed = (model.objects.filter(tenant_id=self.tenant_id, **{f"{id_column}__in": ids})
                           .exclude(**{column: name}).update(**{column: name}))
                stats = self.stats.get(model.RESOURCE)
                if changed and stats is not None:
                    stats.links_resolved += changed
        return firmware, products

    def _wrote(self, model) -> bool:
        writer = self.writers.get(model)
        return writer is None or bool(writer.stats.created or writer.stats.updated)

    def _tombstone(self) -> None:
        with transaction.atomic():
            for model, writer in self.writers.items():
                if model is Alert:
                    continue
                pks = writer.tombstones()
                for start in range(0, len(pks), 1000):
                    model.objects.filter(pk__in=pks[start:start + 1000], deleted_at__isnull=True).update(deleted_at=self.now)
                writer.stats.deleted += len(pks)


_DONE = object()


def _prefetched(pages, cancel: threading.Event, depth: int = 2):
    """Iterate `pages` while a helper thread already fetches the next ones (NCM's latency overlaps the
    writing). An error in the fetch is raised here, in order; a consumer that stops stops the fetch."""
    import queue

    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for page in pages:
                while not (stop.is_set() or cancel.is_set()):
                    try:
                        buffer.put(("page", page), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set() or cancel.is_set():
                    return
            buffer.put(("done", _DONE))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            buffer.put(("error", exc))

    thread = threading.Thread(target=produce, name="ncm-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, item = buffer.get(timeout=0.5)
            except queue.Empty:
                if cancel.is_set():
                    raise SyncCancelled("cancelled") from None
                continue
            if kind == "page":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        thread.join(timeout=5)


def _timeuuid_key(value: str):
    """Order created_at_timeuuid values by time: a UUIDv1 by its timestamp, anything else as a string."""
    import uuid

    try:
        parsed = uuid.UUID(value)
        if parsed.version == 1:
            return (parsed.time, value)
    except ValueError:
        pass
    return (0, value)


# Re-exported for the selectors and tests.
RESOURCE_MODELS = {model.RESOURCE: model for model in MIRRORED_MODELS}
__all__ += ["RESOURCE_MODELS"]
_ = (Account, Group, Router, NetDevice, NetDeviceHealth, NetDeviceMetrics, Location, ConfigurationManager)
