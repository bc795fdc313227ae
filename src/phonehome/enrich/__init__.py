"""Where the data went: owner, network, country, jurisdiction and party of a destination.

Everything here is offline and bundled (provenance in ``data/SOURCES.md``):
:mod:`.ipdb` maps addresses to AS and registration country, :mod:`.entities` names the
company behind a host, :mod:`.jurisdiction` places a country in EU data protection terms,
and :mod:`.destination` puts them together into the ``destination`` object of the scan JSON.
"""
