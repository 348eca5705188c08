"""Derived indexes fed from SQL through the outbox: the lineage graph (Kuzu),
vector search (LanceDB) and the embedders that make the vectors.

Import the submodules directly; this package imports no engine, so swarmstore
works without the ``index`` extra until a graph or vector index is opened.
"""
