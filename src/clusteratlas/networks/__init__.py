"""Actors and their networks (issue 12): data model, importers, analysis, brokerage, spin-offs, matching.

The maths lives in pure functions over plain arrays and :mod:`igraph` graphs
(:mod:`.analysis`, :mod:`.spinoffs`, :mod:`.matching`); :mod:`.importers`
checks files and stores them in the atlas tables of
:mod:`clusteratlas.store.networks`; :mod:`.queries` is what the CLI and the
REST API call.
"""
