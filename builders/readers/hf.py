"""A `datasets` dataset saved with `save_to_disk` (a Dataset, or every split of a DatasetDict)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from builders.readers.base import Piece, Reader, register
from builders.readers.parquet import drop_invalid_utf8, select_keys
from builders.stages.base import Ledger


@register
class HfReader(Reader):
    """Rows of a saved dataset, memory-mapped; a DatasetDict's splits are read in name order and
    positions count rows across them."""

    name = "hf"
    unit = "row"
    folder = True

    def piece_records(self, piece: Piece, ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        import datasets

        datasets.disable_progress_bars()
        try:
            loaded = datasets.load_from_disk(piece.path, keep_in_memory=False)
        except Exception as exc:  # datasets raises many kinds for a broken folder
            self.quarantine(ledger, piece, 0, "unreadable", f"not a saved dataset: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return
        parts = [loaded[name] for name in sorted(loaded)] if isinstance(loaded, datasets.DatasetDict) else [loaded]
        position = 0
        self.note_keys(ledger, parts[0].column_names if parts else [])
        for part in parts:
            table = part.data.table if hasattr(part.data, "table") else part.data
            if part._indices is not None:  # a filtered or shuffled view: flatten it first
                table = part.flatten_indices().data.table
            for batch in table.to_batches(max_chunksize=self.config.batch_size):
                rows = select_keys(pa.Table.from_batches([batch]), self.keys)
                positions = np.arange(position + 1, position + 1 + batch.num_rows, dtype=np.int64)
                position += batch.num_rows
                yield drop_invalid_utf8(self, piece, rows, positions, ledger)
