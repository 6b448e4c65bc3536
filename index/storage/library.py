"""An opened index: the SQLite store plus the in-memory FAISS vectors, kept in step through the change log.

One process at a time writes (the data directory's lock); any number read. A reader loads the newest
snapshot and replays the committed changes after it (`refresh`), so it always sees one committed state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..models.embedder import Embedder
from ..stories.copies import Stories
from ..text.article import Article, LoadProblem, storable
from ..text.context import embedding_text
from ..text.sentences import Sentence, split_sentences
from .datadir import FORMAT_VERSION, DataDir, IndexDamaged, Manifest, ModelMismatch
from .indexstore import IndexStore
from .pghome import PgHome
from .pgsnapshot import SnapshotInfo, SnapshotPolicy
from .store import day_of
from .vectors import IndexPolicy, SnapshotDamaged, VectorIndex

log = logging.getLogger(__name__)

#: Rewrite the FAISS snapshot once this many changes piled up since the last one; below it, readers
#: replay the (cheap) change log instead, which keeps a one-article add far under a second at any size.
SNAPSHOT_EVERY = 20_000
#: On PostgreSQL, also write one after this long with any change (pgsnapshot.py): a replica's start
#: replays at most this much of the change log.
SNAPSHOT_SECONDS = 6 * 3600.0
#: How alike two articles' texts must be to be one story told twice (stories/copies.py).
COPY_THRESHOLD = 0.8
#: Texts per embedder call. A 10 MB article is ~100k sentences: in calls of this size its vectors are
#: committed and reported as they come (minutes of work survive a crash), and memory stays bounded.
EMBED_CHUNK = 512

_Chunk = tuple[list[str], np.ndarray]  # text hashes and their vectors, from the embedding worker


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class _Plan:
    """One batch, split and planned: its articles with sentences, texts and hashes; the texts to embed."""

    size: int  # articles in the batch, for progress
    articles: list[tuple[Article, list[Sentence], list[str], list[str]]]
    todo: dict[str, str]  # text hash -> text, in first-seen order
    chunks: queue.SimpleQueue[_Chunk | None] = field(default_factory=queue.SimpleQueue)  # None: done


def _storable(items: Iterable[Article | LoadProblem]) -> Iterator[Article | LoadProblem]:
    """Every article made storable (see `storable`) before anything hashes or compares its text."""
    for item in items:
        yield storable(item) if isinstance(item, Article) else item


def _batches(
    items: Iterable[Article | LoadProblem], size: int, report: IngestReport
) -> Iterator[list[Article]]:
    """Articles in batches of `size`; problems go straight to the report."""
    batch: list[Article] = []
    for item in items:
        if isinstance(item, LoadProblem):
            report.skipped.append(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class IngestReport:
    """What an ingest did, for the user: every input is counted once in exactly one bucket."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[LoadProblem] = field(default_factory=list)
    sentences: int = 0
    embedded: int = 0
    seconds: float = 0.0
    added_ids: list[str] = field(default_factory=list)
    copies: list[tuple[str, str]] = field(default_factory=list)  # (copy id, id of the story indexed)

    def summary(self) -> str:
        line = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.copies)} copies of stories already indexed, {len(self.skipped)} skipped; "
            f"{self.sentences} sentences, {self.embedded} embedded "
            f"in {self.seconds:.1f} s"
        )
        if self.skipped:
            reasons: dict[str, int] = {}
            for p in self.skipped:
                reasons[p.reason] = reasons.get(p.reason, 0) + 1
            line += " (skipped: " + "; ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ")"
        return line


class Library:
    """The articles and their sentence index in one data directory."""

    def __init__(
        self,
        root: Path | DataDir | PgHome,
        embedder: Callable[[], Embedder],
        *,
        model_name: str,
        readonly: bool = False,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_seconds: float = SNAPSHOT_SECONDS,
        vector_policy: IndexPolicy | None = None,
        copy_threshold: float | None = COPY_THRESHOLD,
        bare_vectors: bool = False,
        embed_chunk: int = EMBED_CHUNK,
    ) -> None:
        self.dir: DataDir | PgHome = root if isinstance(root, DataDir | PgHome) else DataDir(Path(root))
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self._embed_lock = threading.Lock()
        self.model_name = model_name
        self.snapshot_every = snapshot_every
        self.snapshot_policy = SnapshotPolicy(snapshot_every, snapshot_seconds)
        self.embed_chunk = embed_chunk
        self.vector_policy = vector_policy or IndexPolicy()
        # also embed each sentence without its headline: tells apart sentences of one article (search.py)
        self.bare_vectors = bare_vectors
        if readonly and not self.dir.exists():
            raise FileNotFoundError(f"no index in {self.dir.root}: run `newsqa index build` first")
        self.store: IndexStore = self.dir.open_store(readonly=readonly)
        # None: index every article as it comes (an evaluation pool must stay exactly as given)
        self.stories = (
            Stories(self.store, threshold=copy_threshold) if copy_threshold and not readonly else None
        )
        recorded = self.store.get_meta("model")
        if recorded is not None and recorded != model_name:
            raise ModelMismatch(
                f"the index in {self.dir.root} was built with {recorded}, not {model_name}: use --model "
                f"{recorded}, or rebuild with `newsqa index build --rebuild` (or a new --data-dir or --store)"
            )
        self._vectors: VectorIndex | None = None
        self._applied_seq = 0
        self._generation = 0  # the database generation the vectors belong to (see rebuild.py)
        self._snapshot_stale = False  # the snapshot on disk was unusable: the next checkpoint rewrites it
        self._refresh_lock = threading.Lock()

    # -- the model -------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """Loaded on first use: `stats`, `remove` and `--help` never pay for the model."""
        with self._embed_lock:
            if self._embedder is None:
                self._embedder = self._embedder_factory()
                if self._embedder.name != self.model_name:
                    raise ModelMismatch(f"embedder is {self._embedder.name}, expected {self.model_name}")
            return self._embedder

    @property
    def dim(self) -> int:
        recorded = self.store.get_meta("dim")
        return int(recorded) if recorded else self.embedder.dim

    # -- reading ---------------------------------------------------------------------------------
    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            self.refresh()
        assert self._vectors is not None
        return self._vectors

    def refresh(self) -> int:
        """Bring the in-memory vectors up to the last committed change; returns changes applied.

        Everything is read inside one read transaction, so a checkpoint committing meanwhile cannot make
        this reader skip a change.
        """
        with self._refresh_lock, self.store.read_transaction():
            truncated = int(self.store.get_meta("changes_truncated") or 0)
            generation = int(self.store.get_meta("generation") or 0)
            loaded = False
            if self._vectors is None or self._applied_seq < truncated or generation != self._generation:
                if self._vectors is not None and generation != self._generation:
                    self._switch_generation()
                self._load_snapshot(truncated)
                self._generation = generation
                loaded = True
            assert self._vectors is not None
            changes = self.store.changes_since(self._applied_seq)
            if changes:
                self._replay(changes)
            if loaded:
                self._verify_loaded()
            return len(changes)

    def _switch_generation(self) -> None:
        """Another process rebuilt the index under us (`index build --rebuild`): start over from it."""
        recorded = self.store.get_meta("model")
        if recorded is not None and recorded != self.model_name:
            raise ModelMismatch(
                f"the index in {self.dir.root} was rebuilt with {recorded}; restart with --model {recorded}"
            )
        log.info("the index in %s was rebuilt by another process; loading the new one", self.dir.root)
        self._vectors = None
        if self.stories:
            self.stories.reset()

    def _verify_loaded(self) -> None:
        """After a load: the vectors must be exactly the database's sentences, else rebuild them from it.

        Catches what a checksum cannot: a damaged change log (a lost or invented entry). Costs one count.
        """
        assert self._vectors is not None
        _, sentences = self.store.counts()
        if len(self._vectors) != sentences and not self._short_by_malformed(sentences):
            log.warning(
                "the vectors (%d) disagree with newsqa.sqlite (%d sentences); rebuilding them from it",
                len(self._vectors),
                sentences,
            )
            self._rebuild_vectors()
            self._snapshot_stale = True

    def _short_by_malformed(self, sentences: int) -> bool:
        """The vectors lack exactly the sentences whose stored vector is malformed (skipped, badrows.py):
        rebuilding would skip them again, so the loaded vectors stand until `index repair`."""
        assert self._vectors is not None
        missing = self.store.sentences_with_malformed_vectors(self.dim)
        return missing > 0 and len(self._vectors) + missing == sentences

    def _replay(self, changes: list[tuple[int, int, int]]) -> None:
        """Apply committed changes in order; an id added then removed within the window ends up absent."""
        assert self._vectors is not None
        live: dict[int, bool] = {}
        for _seq, op, sid in changes:
            live[sid] = op > 0
        self._vectors.remove(np.fromiter((s for s, alive in live.items() if not alive), dtype=np.int64))
        added = [s for s, alive in live.items() if alive]
        if added:
            ids, vecs = self.store.live_vectors(added, self.dim)
            self._vectors.add(ids, vecs)
            if len(ids) < len(added):
                log.warning(
                    "the change log names %d sentences newsqa.sqlite lacks; rebuilding the vectors",
                    len(added) - len(ids),
                )
                self._rebuild_vectors()
                self._snapshot_stale = True
                return
        self._applied_seq = changes[-1][0]

    def _load_snapshot(self, truncated: int) -> None:
        """The snapshot the manifest names, if it is the one described; else the vectors from the database."""
        if isinstance(self.dir, PgHome):  # the newest snapshot in the database, else every vector
            if not self._load_pg_snapshot(truncated):
                self._rebuild_vectors()
            return
        try:
            manifest = self.dir.read_manifest()
        except IndexDamaged as exc:
            log.warning("%s; meanwhile the vectors are rebuilt from newsqa.sqlite", exc)
            manifest = None
            self._snapshot_stale = True
        generation = int(self.store.get_meta("generation") or 0)
        if manifest and manifest.snapshot and manifest.generation != generation:
            log.info(
                "snapshot %s predates the last rebuild; rebuilding vectors from the database",
                manifest.snapshot,
            )
            self._snapshot_stale = True
        elif manifest and manifest.snapshot and manifest.snapshot_seq >= truncated:
            try:
                vectors = VectorIndex.load(self.dir.root / manifest.snapshot, sha256=manifest.snapshot_sha256)
                if (manifest.dim and vectors.dim != manifest.dim) or (
                    manifest.snapshot_vectors is not None and len(vectors) != manifest.snapshot_vectors
                ):
                    raise SnapshotDamaged(
                        f"{len(vectors)} vectors of {vectors.dim} dimensions, the manifest says "
                        f"{manifest.snapshot_vectors} of {manifest.dim}"
                    )
                self._vectors = vectors
                self._applied_seq = manifest.snapshot_seq
                return
            except (FileNotFoundError, RuntimeError) as exc:  # replaced meanwhile, or damaged
                log.warning(
                    "snapshot %s unusable (%s); rebuilding vectors from the database", manifest.snapshot, exc
                )
                self._snapshot_stale = True
        self._rebuild_vectors()

    def _load_pg_snapshot(self, truncated: int) -> bool:
        """The newest snapshot the ingest side stored in the database (pgsnapshot.py), when it suits this
        process; False (with one line logged) when there is none usable, so every vector is read."""
        from . import pgsnapshot

        conn = self.store.conn
        info = pgsnapshot.newest(conn)
        if info is None:
            return False
        problem = self._snapshot_problem(info, truncated)
        try:
            if problem is not None:
                raise pgsnapshot.SnapshotUnusable(problem)
            vectors = pgsnapshot.load(conn, info)
        except pgsnapshot.SnapshotUnusable as exc:
            log.warning(
                "snapshot %d (change %d) unusable: %s; reading every vector from the database",
                info.id,
                info.seq,
                exc,
            )
            self._snapshot_stale = True
            return False
        self._vectors = vectors
        self._applied_seq = info.seq
        log.info(
            "vectors loaded from snapshot %d (%s, %d vectors, change %d)",
            info.id,
            info.layout,
            len(vectors),
            info.seq,
        )
        return True

    def _snapshot_problem(self, info: SnapshotInfo, truncated: int) -> str | None:
        """Why this process cannot start from the stored snapshot `info`, or None when it can."""
        if info.model != self.model_name:
            return f"built with {info.model}, not {self.model_name}"
        dim = int(self.store.get_meta("dim") or 0)
        if dim and info.dim != dim:
            return f"{info.dim} dimensions, the index has {dim}"
        if info.generation != self._db_generation():
            return f"generation {info.generation}, the database is at {self._db_generation()}"
        if info.seq < truncated:
            return f"it covers change {info.seq}, the change log starts after {truncated}"
        wanted = self.vector_policy.compressed
        if wanted is not None and wanted != info.compressed:
            return f"its layout is {info.layout}, this process wants {'compressed' if wanted else 'float32'}"
        return None

    def _db_generation(self) -> int:
        return int(self.store.get_meta("generation") or 0)

    def _rebuild_vectors(self, *, compressed: bool | None = None) -> None:
        """From the database alone, in the layout the policy wants for its size.

        The recovery path when no usable snapshot exists, and the retraining path (`checkpoint`).
        The caller holds a read transaction, so the vectors and the sequence number agree.
        """
        if compressed is None:
            compressed = bool(self.vector_policy.compressed)
        _, n = self.store.counts()
        self._vectors = VectorIndex.build(
            self.dim,
            n,
            lambda: self.store.iter_all_vectors(self.dim),
            self.vector_policy,
            compressed=compressed,
        )
        truncated = int(self.store.get_meta("changes_truncated") or 0)
        self._applied_seq = max(self.store.last_seq(), truncated)

    def _retrain_if_due(self) -> bool:
        """Rebuild the vectors when the collection outgrew (or shrank out of) its FAISS layout."""
        target = self.vectors.wants_rebuild(self.vector_policy)
        if target is None:
            return False
        with self._refresh_lock, self.store.read_transaction():
            self._rebuild_vectors(compressed=target.compressed)
        log.info("vectors rebuilt as %s (%d)", self.vectors.layout.describe(), len(self.vectors))
        return True

    def counts(self) -> tuple[int, int]:
        return self.store.counts()

    # -- writing ---------------------------------------------------------------------------------
    def ingest(
        self,
        items: Iterable[Article | LoadProblem],
        *,
        batch_articles: int = 256,
        progress: Callable[[int], None] | None = None,
        splitter: Callable[[Article], list[Sentence]] | None = None,
        on_embedded: Callable[[int], None] | None = None,
        report: IngestReport | None = None,
        alerts_due: bool = False,
    ) -> IngestReport:
        """Add new articles, replace changed ones, skip unchanged ones; one transaction per batch.

        `report`: filled as batches commit, so a caller still knows what committed when this raises.
        `alerts_due`: each new article (not an update or a copy) is marked in its batch's transaction as
        owing its followers' alerts (the bot's writes; bot/alerts.py sends them and clears the mark), so
        a process killed before its alerts leaves the mark for the next pass.

        `progress` gets the articles done per batch, `on_embedded` the sentences embedded per embedder
        call (`embed_chunk` texts), so a single huge article shows its progress too.
        `splitter` replaces the sentence splitter (an evaluation indexes a benchmark's own sentences).
        The caller holds the writer lock. A crash loses at most the batch in flight, never committed work:
        vectors are committed per embedder call (invisible until their sentences are, and found again by
        their text hash on the next run), an article's sentences in its batch's one transaction.
        """
        split = splitter or (lambda a: split_sentences(a.text))
        report = IngestReport() if report is None else report
        started = time.perf_counter()
        stories = self.stories
        items = _storable(items)
        try:
            self._ingest_pipelined(
                stories.filter(items) if stories else items,
                batch_articles,
                report,
                progress,
                split,
                on_embedded,
                alerts_due,
            )
        except BaseException:
            if stories:
                stories.reset()
            raise
        if stories:
            report.copies = [(c.article.id, c.original) for c in stories.copies]
            if progress and stories.copies:
                progress(len(stories.copies))
            stories.commit()
        self.refresh()
        self.checkpoint()
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_pipelined(
        self,
        items: Iterable[Article | LoadProblem],
        batch_articles: int,
        report: IngestReport,
        progress: Callable[[int], None] | None,
        split: Callable[[Article], list[Sentence]],
        on_embedded: Callable[[int], None] | None,
        alerts_due: bool = False,
    ) -> None:
        """Embed batch k in a worker thread while this thread reads, splits and plans batch k+1 and
        commits batch k-1: the encoder (the physical limit) never waits for Python or SQLite.

        At most two batches are in flight; each still commits its articles in one transaction, in input
        order, so a crash loses only uncommitted batches. Texts being embedded count as known to later
        batches, so nothing is embedded twice.
        """
        seen: dict[str, str] = {}  # article id -> content hash planned in this ingest
        in_flight: set[str] = set()  # text hashes planned for embedding, not yet committed
        previous: tuple[_Plan, Future[None]] | None = None
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsqa-embed") as pool:
            try:
                for batch in _batches(items, batch_articles, report):
                    plan = self._plan_batch(batch, report, split, seen, in_flight)
                    if previous is not None:  # the encoder is free once this returns: hand it this batch
                        self._store_vectors(*previous, report, on_embedded)
                    future = pool.submit(self._embed_plan, plan, stop)
                    if previous is not None:
                        self._write_batch(previous[0], report, progress, in_flight, alerts_due)
                    previous = (plan, future)
                if previous is not None:
                    self._store_vectors(*previous, report, on_embedded)
                    self._write_batch(previous[0], report, progress, in_flight, alerts_due)
            except BaseException:
                stop.set()  # the worker stops at its next chunk instead of embedding on for nothing
                raise

    def _embed_plan(self, plan: _Plan, stop: threading.Event) -> None:
        """In the worker: the plan's texts in chunks of `embed_chunk`, each handed over as it is done."""
        try:
            items = list(plan.todo.items())
            for i in range(0, len(items), self.embed_chunk):
                if stop.is_set():
                    return
                part = items[i : i + self.embed_chunk]
                plan.chunks.put(([h for h, _ in part], self.embedder.embed([t for _, t in part])))
        finally:
            plan.chunks.put(None)

    def _store_vectors(
        self,
        plan: _Plan,
        future: Future[None],
        report: IngestReport,
        on_embedded: Callable[[int], None] | None,
    ) -> None:
        """Commit the plan's vectors chunk by chunk as the worker delivers them, until it is done.

        Vectors without sentences are invisible (every read joins through sentences), so committing
        them early shows no half article; it saves the work a crash would otherwise throw away.
        """
        while (chunk := plan.chunks.get()) is not None:
            hashes, vectors = chunk
            with self.store.transaction():
                self.store.put_embeddings(hashes, vectors)
            report.embedded += len(hashes)
            if on_embedded:
                on_embedded(len(hashes))
        future.result()  # the worker's error, if it had one

    def _plan_batch(
        self,
        batch: list[Article],
        report: IngestReport,
        split: Callable[[Article], list[Sentence]],
        seen: dict[str, str],
        in_flight: set[str],
    ) -> _Plan:
        """Split the batch and decide what to embed: unchanged articles and known texts are skipped."""
        plans: list[tuple[Article, list, list[str], list[str]]] = []
        for article in batch:
            existing = self.store.article_hash(article.id)
            if seen.get(article.id) == article.content_hash or (
                article.id not in seen and existing and existing[1] == article.content_hash
            ):
                report.unchanged += 1
                continue
            sentences = split(article)
            if not sentences:
                report.skipped.append(LoadProblem(article.origin or article.id, "no text to index"))
                continue
            texts = [article.text[s.start : s.end] for s in sentences]
            keys = [embedding_text(article.title, t) for t in texts]  # what is embedded (context.py)
            plans.append((article, sentences, texts, [text_hash(k) for k in keys]))
            seen[article.id] = article.content_hash
        todo: dict[str, str] = {}
        if plans:
            all_hashes = [h for _, _, _, hs in plans for h in hs]
            if self.bare_vectors:  # each sentence on its own too (context.py), keyed by its own text
                all_hashes += [text_hash(t) for _, _, texts, _ in plans for t in texts]
            known = self.store.known_hashes(all_hashes) | in_flight
            for article, _, texts, hashes in plans:
                for t, h in zip(texts, hashes, strict=True):
                    if h not in known and h not in todo:
                        todo[h] = embedding_text(article.title, t)
                    if self.bare_vectors and (bare := text_hash(t)) not in known and bare not in todo:
                        todo[bare] = t
            in_flight.update(todo)
        return _Plan(len(batch), plans, todo)

    def _write_batch(
        self,
        plan: _Plan,
        report: IngestReport,
        progress: Callable[[int], None] | None,
        in_flight: set[str],
        alerts_due: bool = False,
    ) -> None:
        """Commit one planned batch's articles and sentences in one transaction (its vectors are in),
        with the new articles' alert marks when `alerts_due`."""
        plans, todo = plan.articles, plan.todo
        if not plans:
            if progress:
                progress(plan.size)
            return
        with self.store.transaction():
            if self.store.get_meta("model") is None:
                self.store.set_meta("model", self.model_name)
                self.store.set_meta("dim", str(self.embedder.dim))
            for article, sentences, texts, hashes in plans:
                existing = self.store.article_hash(article.id)
                if existing:
                    self.store.delete_article(existing[0])
                    report.updated += 1
                else:
                    report.added += 1
                    report.added_ids.append(article.id)
                    if alerts_due:
                        self.store.mark_alerts_due(article.id)
                rowid = self.store.insert_article(article)
                self.store.insert_sentences(
                    rowid,
                    sentences,
                    texts,
                    hashes,
                    day=day_of(article.published),
                    bare_hashes=[text_hash(t) for t in texts] if self.bare_vectors else None,
                )
                report.sentences += len(sentences)
        in_flight.difference_update(todo)
        if progress:
            progress(plan.size)

    def remove(self, article_ids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Remove articles by id; returns (removed, not found). One transaction."""
        removed: list[str] = []
        missing: list[str] = []
        with self.store.transaction():
            for aid in article_ids:
                existing = self.store.article_hash(aid)
                if existing is None:
                    missing.append(aid)
                    continue
                self.store.delete_article(existing[0])
                removed.append(aid)
            if removed:
                self.store.prune_embeddings()
                self.store.forget_stories(removed)
                self.store.clear_alerts_due(removed)  # a gone article owes no alerts
        if self.stories:
            self.stories.forget(removed)
        self.refresh()
        self.checkpoint()
        return removed, missing

    def checkpoint(self, *, force: bool = False) -> bool:
        """Write a new FAISS snapshot when enough changes piled up (or forced); always refresh the manifest.

        Order matters for crash safety: snapshot file (atomic), then manifest (atomic), then clean-up.
        A crash between steps leaves a manifest that names a complete snapshot plus a replayable log.
        On PostgreSQL the snapshot goes into the database by its own policy (`_checkpoint_pg`); there
        `force` only re-chooses the layout (a snapshot follows when it changed): a forced checkpoint per
        add (`--compressed`, frontdoor.py) must not upload the whole index each time.
        """
        self.refresh()
        if isinstance(self.dir, PgHome):  # no manifest: the time of the last write is kept in the database
            self.store.set_meta("written_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
            retrained = self._retrain_if_due()
            return self._checkpoint_pg(force=retrained or self._snapshot_stale)
        try:
            manifest = self.dir.read_manifest()
        except IndexDamaged as exc:  # rewritten below, from the database
            log.warning("%s; rewriting it", exc)
            manifest = None
        last = self._applied_seq
        since = last - (manifest.snapshot_seq if manifest and manifest.snapshot else 0)
        snapshot_name = manifest.snapshot if manifest else None
        snapshot_seq = manifest.snapshot_seq if manifest else 0
        sha256 = manifest.snapshot_sha256 if manifest else None
        n_vectors = manifest.snapshot_vectors if manifest else None
        wrote = False
        if (
            force
            or snapshot_name is None
            or since >= self.snapshot_every
            or self._snapshot_stale
            or sha256 is None  # an older manifest: give it a checksum
            or (manifest is not None and manifest.generation != self._generation)
        ):
            self._retrain_if_due()  # only here: a small add never pays for training
            with self._refresh_lock:  # another thread's refresh must not slip changes in past `last`
                assert self._vectors is not None
                last = self._applied_seq
                path = self.dir.snapshot_path(last)
                n_vectors = len(self._vectors)
                sha256 = self._vectors.save(path)
            snapshot_name, snapshot_seq, wrote = path.name, last, True
            self._snapshot_stale = False
        articles, sentences = self.counts()
        model = self.store.get_meta("model") or self.model_name
        dim = int(self.store.get_meta("dim") or 0)
        self.dir.write_manifest(
            Manifest(
                format_version=FORMAT_VERSION,
                model=model,
                dim=dim,
                articles=articles,
                sentences=sentences,
                snapshot=snapshot_name,
                snapshot_seq=snapshot_seq,
                built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                snapshot_sha256=sha256,
                snapshot_vectors=n_vectors,
                generation=self._generation,
            )
        )
        if wrote:
            with self.store.transaction():
                # Keep the log a reader with the previous snapshot still needs? No: such a reader
                # notices `changes_truncated` and reloads the new snapshot.
                self.store.truncate_changes(snapshot_seq)
                self.store.set_meta("changes_truncated", str(snapshot_seq))
            for stale in self.dir.stale_snapshots(keep=snapshot_name):
                stale.unlink(missing_ok=True)
            # a large ingest leaves a WAL as big as what it wrote; fold it in and give the space back
            # (readers in the middle of a read make this a partial no-op, which is harmless)
            self.store.fold_wal()
        for tmp in self.dir.stale_temp_files():
            tmp.unlink(missing_ok=True)
        return wrote

    def _checkpoint_pg(self, *, force: bool) -> bool:
        """Store a snapshot in the database when the policy says so (pgsnapshot.py), then keep the change
        log back to the oldest snapshot kept. The caller is the writer (it holds the writer lock).

        Searches wait only for the index's memory copy; the upload runs outside every lock but the
        writer's, and outside any transaction, so other writes and every reader go on meanwhile.
        """
        from . import pgsnapshot

        conn = self.store.conn
        newest = pgsnapshot.newest(conn)
        with self._refresh_lock:
            assert self._vectors is not None
            seq = self._applied_seq
            stale = newest is not None and (
                newest.generation != self._generation or newest.model != self.model_name
            )
            if not (force or stale or self.snapshot_policy.due(newest, seq)):
                return False
            data = self._vectors.serialized()
            count, layout, dim = len(self._vectors), self._vectors.layout.describe(), self._vectors.dim
        started = time.perf_counter()
        info = pgsnapshot.write(
            conn,
            data,
            seq=seq,
            generation=self._generation,
            model=self.model_name,
            dim=dim,
            layout=layout,
            vectors=count,
        )
        del data
        with self.store.transaction():
            oldest = pgsnapshot.prune(self.store.conn)
            truncated = int(self.store.get_meta("changes_truncated") or 0)
            if oldest > truncated:  # a replica behind it reloads the newest snapshot (refresh)
                self.store.truncate_changes(oldest)
                self.store.set_meta("changes_truncated", str(oldest))
        self._snapshot_stale = False
        log.info(
            "snapshot %d stored in the database: %d vectors (%s), %.0f MiB, change %d, in %.1f s",
            info.id,
            count,
            layout,
            info.bytes / 2**20,
            seq,
            time.perf_counter() - started,
        )
        return True

    def repair(self) -> list[str]:
        """Check the database, mend its malformed rows, then rebuild the vectors from it and write a new
        snapshot and manifest. Returns what was mended, one line each (empty: nothing was malformed).

        The caller holds the writer lock. A damaged database cannot be repaired from here: IndexDamaged.
        """
        problems = self.store.quick_check(5)
        if problems != ["ok"]:
            raise IndexDamaged(
                f"{self.describe()} is damaged ({'; '.join(problems)[:200]}): restore it from a backup, or "
                f"rebuild the index with `newsqa --data-dir {self.dir.root} index build --rebuild PATHS`"
            )
        mended = self._mend_rows()
        self.refresh()
        with self._refresh_lock, self.store.read_transaction():
            self._rebuild_vectors()
        self._snapshot_stale = True  # on PostgreSQL too: a snapshot of what was just rebuilt
        self.checkpoint(force=True)
        log.info("vectors rebuilt from %s", self.describe())
        return mended

    def _mend_rows(self) -> list[str]:
        """Rows a reader skips (badrows.py): malformed vectors are embedded again from their sentences,
        days that are not days are dropped (sentence_times) or cleared (an article's day)."""
        mended: list[str] = []
        with self.store.transaction():
            if self.store.get_meta("dim") is None:
                return mended
            bad_vectors = self.store.malformed_vectors(self.dim)
            self.store.drop_embeddings(bad_vectors)
            bad_times = self.store.malformed_times()
            self.store.drop_times(bad_times)
            bad_days = self.store.malformed_days()
            self.store.clear_days(bad_days)
            todo: dict[str, str] = {}
            for h, title, text, bare in self.store.texts_without_vectors():
                todo.setdefault(h, embedding_text(title, text))
                if bare:
                    todo.setdefault(bare, text)
            known = self.store.known_hashes(todo)
            todo = {h: t for h, t in todo.items() if h not in known}
            for i in range(0, len(todo), self.embed_chunk):
                part = list(todo.items())[i : i + self.embed_chunk]
                self.store.put_embeddings([h for h, _ in part], self.embedder.embed([t for _, t in part]))
        if bad_vectors:
            mended.append(f"{len(bad_vectors)} malformed vectors dropped")
        if todo:
            mended.append(f"{len(todo)} sentence texts without a vector embedded again")
        if bad_times:
            mended.append(f"{len(bad_times)} sentence days that were not days dropped")
        if bad_days:
            mended.append(f"{len(bad_days)} article days that were not days cleared")
        for line in mended:
            log.info("repair: %s", line)
        return mended

    def describe(self) -> str:
        """Where the articles are kept, for messages: the SQLite file, or the database URL."""
        return self.dir.root if isinstance(self.dir, PgHome) else str(self.dir.db_path)

    def close(self) -> None:
        self.store.close()
