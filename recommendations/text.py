"""TF-IDF over item names and categories (scikit-learn), for similar items and search.

Tokens are lower-cased words with a light plural folding ("earphones" and "earphone" meet), unigrams
and bigrams, sublinear term frequency. Rows are L2-normalised, so a dot product is a cosine.
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

_WORD = re.compile(r"[0-9a-z]+")


def fold(word: str) -> str:
    """A crude English plural folding, enough to match 'earbuds' with 'earbud' and 'boxes' with 'box'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    return [fold(word) for word in _WORD.findall(text.lower())]


class TextIndex:
    def __init__(self, vectorizer: TfidfVectorizer | None, matrix: sp.csr_matrix):
        self.vectorizer = vectorizer
        self.matrix = matrix
        self.idf = vectorizer.idf_ if vectorizer is not None else np.zeros(0)

    @classmethod
    def build(cls, texts: list[str]) -> TextIndex:
        if not texts or not any(tokenize(text) for text in texts):
            return cls(None, sp.csr_matrix((len(texts), 0), dtype=np.float32))
        vectorizer = TfidfVectorizer(
            tokenizer=tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=1,
            dtype=np.float32,
        )
        matrix = vectorizer.fit_transform(texts).tocsr()
        return cls(vectorizer, matrix)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.data.nbytes + self.matrix.indices.nbytes + self.matrix.indptr.nbytes)

    def similar_to(self, position: int) -> np.ndarray:
        """Cosine similarity of every item to the item at `position` (dense, float32)."""
        if self.matrix.shape[1] == 0:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        row = self.matrix[position]
        return np.asarray((self.matrix @ row.T).toarray()).ravel()

    def query(self, terms: list[str]) -> np.ndarray:
        """Cosine similarity of every item to a query made of `terms` (each may be several words).

        The query vector is built from the fitted vocabulary and IDF directly (the same weighting as
        `TfidfVectorizer.transform`, sublinear tf and L2 norm, without its per-call validation overhead).
        """
        if self.vectorizer is None or not terms:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        vocabulary = self.vectorizer.vocabulary_
        counts: dict[int, int] = {}
        for term in terms:
            tokens = tokenize(term)
            for gram in [*tokens, *(f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))]:
                column = vocabulary.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
        if not counts:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
        weights = (1 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[columns]
        weights /= np.linalg.norm(weights)
        vector = sp.csr_matrix(
            (weights.astype(np.float32), (np.zeros(len(columns), dtype=np.int64), columns)),
            shape=(1, self.matrix.shape[1]),
        )
        return np.asarray((self.matrix @ vector.T).toarray()).ravel()
