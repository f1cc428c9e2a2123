"""The read side: saved runs -> typed records -> views, comparisons, text and exports.

``record`` (one validated ``Record`` per saved benchmark, ``CaseSpec`` its identity),
``runs`` (finding and loading saved runs), ``views`` (speedups, scaling, frameworks,
ceilings), ``text`` (the summary as text), ``compare`` (two runs, a noise-aware verdict),
``baseline`` (``--benchmark-compare``, like with like), ``saving`` and ``files`` (files
written complete or not at all), ``export`` (formats for benchmark trackers). Nothing here
imports pytest, and nothing on the write side imports this package.
"""
