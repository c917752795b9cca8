"""Market data: files and feeds in, validated bars, quotes and indicators out.

- ``loaders``: CSV / feather / Parquet (and trade exports) into one OHLCV frame;
- ``validation``: the ingest rules, a ``QualityReport``, and the conversion to domain ``Bar``s;
- ``replay``, ``synthetic``, ``kraken``: ``MarketDataSource`` implementations;
- ``indicators``: vectorised (history) and incremental (live) technical indicators;
- ``quotes``, ``timing``: small shared helpers (made-up quotes, waiting on an injected clock).
"""
