"""A quantised first pass for very large indexes: one bit per dimension
(the sign of each value after centring), compared by Hamming distance, then
the best candidates rescored exactly in float32.

At 1,000,000 passages the float32 matrix is 1.5 GB and one exact
matrix-vector product has to read all of it; the sign codes are 48 MB. With
numpy there is no int8 BLAS, so bits and popcounts (numpy >= 2.0) are the
cheapest first pass. tests/benchmarks/bench_search.py reports its recall@10
against exact search.
"""
from __future__ import annotations

import numpy as np


class SignCodes:
    """Sign bits of every row of a matrix, stored one 64-bit column at a
    time so that each pass over them is a contiguous XOR and popcount."""

    def __init__(self, matrix: np.ndarray, chunk: int = 65536):
        self.mean = matrix.mean(axis=0, dtype=np.float64).astype(np.float32)
        words = (matrix.shape[1] + 63) // 64
        self.columns = [np.empty(len(matrix), dtype=np.uint64) for _ in range(words)]
        for start in range(0, len(matrix), chunk):
            bits = np.packbits(matrix[start:start + chunk] > self.mean, axis=1)
            bits = np.pad(bits, ((0, 0), (0, words * 8 - bits.shape[1]))).view(np.uint64)
            for j, col in enumerate(self.columns):
                col[start:start + chunk] = bits[:, j]

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns)

    def candidates(self, query: np.ndarray, n: int, row_mask: np.ndarray | None = None) -> np.ndarray:
        """The n rows nearest the query by Hamming distance of their sign
        codes (rows the mask drops are never candidates)."""
        bits = np.packbits(np.asarray(query, dtype=np.float32) > self.mean)
        bits = np.pad(bits, (0, len(self.columns) * 8 - len(bits))).view(np.uint64)
        size = len(self.columns[0])
        distance = np.zeros(size, dtype=np.uint16)
        xor = np.empty(size, dtype=np.uint64)
        count = np.empty(size, dtype=np.uint8)
        for word, col in zip(bits, self.columns):
            np.bitwise_xor(col, word, out=xor)
            np.bitwise_count(xor, out=count)
            distance += count
        if row_mask is not None:
            distance[~row_mask] = np.iinfo(np.uint16).max
            n = min(n, int(row_mask.sum()))
        if n >= size:
            return np.arange(size) if row_mask is None else np.flatnonzero(row_mask)
        return np.argpartition(distance, n)[:n]
