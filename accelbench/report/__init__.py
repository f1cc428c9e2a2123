"""Reports of saved runs: ``build`` (tables and sections), ``document`` (Markdown and HTML from
one list of blocks), ``plots`` (PNG figures). They read ``accelbench.results`` only."""
