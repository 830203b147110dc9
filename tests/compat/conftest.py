"""The compat scripts are programs, not test modules: ``--doctest-modules`` would import
(and so run) each of them under real torch at collection time."""

collect_ignore = ["scripts"]
