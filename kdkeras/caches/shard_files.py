"""The one writer and reader of sharded logit caches: shards and a manifest.

Both streamed caches are written here: the plain one
(`kdkeras.caches.sharded_logits`, one record per batch of the data) and
the augmented-view one (`kdkeras.caches.sharded_augmented`, one record per
batch of each epoch's views, the shards of each epoch apart). A cache is a
directory of TFRecord shards (`kdkeras.caches.shard_records`) and
`manifest.json`: the fingerprints of the teacher and the data, the numbers of
examples, batches and classes, `top_k`, each shard's size and what the kind
of cache adds. It is written into a temporary directory and renamed into
place once the manifest reads back (`kdkeras.io_utils.atomic_directory`): a
killed write leaves no half cache.
"""

import contextlib
import json
import os

import numpy as np

from kdkeras.caches import cache_files, fingerprints, shard_records, topk
from kdkeras.io_utils import atomic_directory
from kdkeras.validation import check_finite, check_positive_int
from kdkeras.version import __version__

MANIFEST = "manifest.json"
FORMAT = "kdkeras-sharded-logits"
FORMAT_VERSION = 2
# The kind of cache, and the function that writes it (named in errors). A
# manifest without "kind" is a plain cache's (written before view caches).
WRITERS = {
    "logits": "caches.write_sharded_logits",
    "views": "caches.cache_augmented_logits",
}


class LogitShardWriter:
    """Appends batches of logits to the shards of a cache being written.

    Made by `writing_cache`; `write` each batch, `start_group` before each
    group of batches that must be read alone (an epoch of views), and
    `finish` with the fingerprints once every batch is written.
    """

    def __init__(self, directory, kind, top_k, shard_size):
        self.directory = directory
        self.kind = kind
        self.top_k = top_k
        self.num_classes = None
        self.manifest = None
        self._shards = shard_records.ShardWriter(directory, shard_size)

    def write(self, logits):
        """Appends one batch, `(rows, classes)` finite float32 logits."""
        logits = np.asarray(logits, dtype="<f4")
        if logits.ndim != 2:
            raise ValueError(
                "`teacher` must output one row of logits per example, "
                f"(batch, classes). Received outputs of shape {logits.shape}"
            )
        if self.num_classes is None:
            self.num_classes = logits.shape[-1]
            if self.top_k is not None:
                topk.check_top_k(self.top_k, self.num_classes)
        elif logits.shape[-1] != self.num_classes:
            raise ValueError(
                f"`teacher` must output {self.num_classes} logits per example in "
                f"every batch. Received: {logits.shape[-1]}"
            )
        check_finite(logits, "teacher_logits")
        self._shards.write(*shard_records.serialize_batch(logits, self.top_k))

    def start_group(self):
        """Starts a new shard at the next batch, numbered as a new group."""
        self._shards.start_group()

    def finish(self, teacher_fingerprint, data_fingerprint, **fields):
        """Closes the shards and writes the manifest, with `fields` added.

        Returns:
            The manifest, as read back from the temporary directory.
        """
        shards = [
            {
                **shard,
                "sha256": cache_files.sha256_of(
                    os.path.join(self.directory, shard["file"])
                ),
            }
            for shard in self._shards.close()
        ]
        if self.num_classes is None:
            raise ValueError("`x` must hold at least one example. Received: no batch")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kdkeras_version": __version__,
            "teacher_fingerprint": teacher_fingerprint,
            "data_fingerprint": data_fingerprint,
            "num_examples": self._shards.rows,
            "num_batches": self._shards.records,
            "num_classes": int(self.num_classes),
            "top_k": self.top_k,
            "batches_per_shard": self._shards.batches_per_shard,
            "shards": shards,
            **fields,
        }
        if self.kind != "logits":
            manifest["kind"] = self.kind
        with open(os.path.join(self.directory, MANIFEST), "w") as file:
            json.dump(manifest, file, indent=1)
        if read_manifest(self.directory, self.kind) != manifest:
            raise OSError(
                f"The manifest written in {self.directory!r} reads back wrong."
            )
        self.manifest = manifest
        return manifest


@contextlib.contextmanager
def writing_cache(directory, kind, top_k=None, shard_size=64 * 2**20, overwrite=False):
    """Yields a `LogitShardWriter` into a temporary directory, renamed to
    `directory` when the block ends after `finish` (and removed otherwise).

    Args:
        directory: The cache directory to create.
        kind: `"logits"` or `"views"` (see `WRITERS`).
        top_k: Store the `k` largest logits of each row (`topk`), or all.
        shard_size: Approximate bytes per shard file.
        overwrite: Whether to replace an existing `directory`.
    """
    check_positive_int(shard_size, "shard_size")
    if top_k is not None:
        topk.check_top_k(top_k)
    with atomic_directory(directory, overwrite=overwrite) as temporary:
        writer = LogitShardWriter(temporary, kind, top_k, shard_size)
        yield writer
        if writer.manifest is None:
            raise RuntimeError("The cache was left without a manifest: call `finish`.")


def read_manifest(directory, kind="logits"):
    """The manifest of a sharded cache of `kind`, its shard files checked for size.

    Raises:
        FileNotFoundError: If `directory` holds no `manifest.json`.
        ValueError: If the manifest is not a kdkeras sharded cache's of that
            kind, or a shard file is missing or of another size than written.
    """
    writer = WRITERS[kind]
    path = os.path.join(os.fspath(directory), MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{os.fspath(directory)!r} is not a sharded logit cache: it has no "
            f"{MANIFEST}. Write one with `{writer}`."
        )
    try:
        with open(path) as file:
            manifest = json.load(file)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path!r} is not a kdkeras manifest ({type(error).__name__})."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a manifest written by `{writer}`.")
    if manifest.get("kind", "logits") != kind:
        raise ValueError(
            f"{path!r} is a manifest written by "
            f"`{WRITERS.get(manifest.get('kind'), manifest.get('kind'))}`; "
            f"this reader takes caches written by `{writer}`."
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has format version {manifest.get('format_version')!r}; "
            f"this kdkeras reads version {FORMAT_VERSION}. Recompute the cache."
        )
    _check_fields(manifest, path, writer, kind)
    cache_files.check_files(directory, manifest["shards"], writer)
    return manifest


_FIELDS = {
    "teacher_fingerprint": str,
    "data_fingerprint": str,
    "num_examples": int,
    "num_batches": int,
    "num_classes": int,
    "top_k": (int, type(None)),
    "batches_per_shard": int,
    "shards": list,
}
_FILE_FIELDS = {"file": str, "bytes": int, "sha256": str}
_SHARD_FIELDS = {**_FILE_FIELDS, "records": int, "rows": int}
_AUGMENTATION_FIELDS = {
    "plan": dict,
    "epochs": int,
    "num_images": int,
    "image_shape": list,
    "batch_size": int,
    "parameter_files": list,
}


def _check_fields(manifest, path, writer, kind):
    """Raises `ValueError` naming the first field of `manifest` that is
    missing or of another type than the writer writes."""
    checks = [("", manifest, _FIELDS)]
    if kind == "views":
        checks.append(("views.", manifest.get("views"), _AUGMENTATION_FIELDS))
    for prefix, section, fields in checks:
        if not isinstance(section, dict):
            raise ValueError(f"{path!r}: `{prefix.rstrip('.')}` must be a mapping.")
        for name, expected in fields.items():
            value = section.get(name)
            if (
                name not in section
                or not isinstance(value, expected)
                or (isinstance(value, bool))
            ):
                raise ValueError(
                    f"{path!r} is not a manifest written by `{writer}`: "
                    f"`{prefix}{name}` is missing or of another type "
                    f"(received: {str(value)[:80]!r})."
                )
        for list_name, item_fields in (
            ("shards", _SHARD_FIELDS),
            ("parameter_files", _FILE_FIELDS),
        ):
            for index, item in enumerate(section.get(list_name, ())):
                if not isinstance(item, dict) or any(
                    not isinstance(item.get(key), expected)
                    for key, expected in item_fields.items()
                ):
                    raise ValueError(
                        f"{path!r} is not a manifest written by `{writer}`: "
                        f"`{prefix}{list_name}[{index}]` must have "
                        f"{sorted(item_fields)} (received: {str(item)[:80]!r})."
                    )


def read_manifest_kind(directory):
    """The kind (`"logits"` or `"views"`) of the sharded cache in `directory`,
    read from its manifest (`"logits"` when it has no readable one, so the
    reader of that kind names what is wrong)."""
    try:
        with open(os.path.join(os.fspath(directory), MANIFEST)) as file:
            manifest = json.load(file)
    except (OSError, ValueError):
        return "logits"
    kind = manifest.get("kind", "logits") if isinstance(manifest, dict) else None
    return kind if kind in WRITERS else "logits"


def checked_manifest(
    directory,
    kind,
    teacher,
    teacher_fingerprint,
    allow_any_teacher,
    caller,
    data=None,
    data_name="x",
):
    """`read_manifest`, refused unless its teacher (and data) are the ones named.

    Exactly one of `teacher`, `teacher_fingerprint` or `allow_any_teacher`
    names the teacher (`fingerprints.expected_teacher_fingerprint`; `caller`
    is named in the error otherwise).

    Args:
        data: The data the cache must belong to, or `None` not to check it.
        data_name: Its argument name, in the error.

    Raises:
        caches.StaleCacheError: If the cache is another teacher's, or of
            other data.
    """
    expected = fingerprints.expected_teacher_fingerprint(
        teacher, teacher_fingerprint, allow_any_teacher, caller=caller
    )
    manifest = read_manifest(directory, kind)
    fingerprints.check_fingerprints(
        directory,
        WRITERS[kind],
        stored_teacher=manifest["teacher_fingerprint"],
        expected_teacher=expected,
        stored_data=None if data is None else manifest["data_fingerprint"],
        data=data,
        data_name=data_name,
    )
    return manifest


def logit_batches(directory, manifest, parallel_reads, group=None):
    """The cache's logit batches (of one `group` of shards), in order.

    Args:
        directory: The cache directory.
        manifest: Its manifest.
        parallel_reads: Shard files read at once.
        group: Read only the shards of this group (`start_group`), or all.

    Returns:
        A `tf.data.Dataset` of float32 `(rows, classes)` batches, of known
        cardinality.
    """
    check_positive_int(parallel_reads, "parallel_reads")
    shards = manifest["shards"]
    if group is not None:
        shards = [shard for shard in shards if shard.get("group") == group]
    return shard_records.read_logit_batches(
        [os.path.join(os.fspath(directory), shard["file"]) for shard in shards],
        manifest,
        parallel_reads,
        num_batches=sum(shard["records"] for shard in shards),
    )
