"""Field extraction: every place of an outgoing message where data can hide.

Each protocol says which places of its messages are walked (its registry entry's
``fields``; :func:`phonehome.protocols.registry.message_fields` is the entry point); the
walkers and decoders here turn each place into :class:`~phonehome.model.field.Field`
records, each with its place (``where``), the decoders that produced it (``encoding``),
its key and its sibling key/value pairs. The grammar of ``where`` and the encoding names
are part of the public JSON output: see ``docs/fields.md``.
"""
