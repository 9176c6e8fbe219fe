"""Engines for `kb reindex` jobs: ``local`` (process pool + threads) and ``ray`` (Ray Data)."""
