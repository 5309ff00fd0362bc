"""Data contracts: each published table's ODCS v3 contract (datacontract.yaml).

- ``model``: floe's normalized contract (compiled into compiled_artifacts.json) and what a
  publication records of it in the catalog.
- ``load``: reading and validating datacontract.yaml with the standard's own JSON Schema
  and models (``open-data-contract-standard``).
- ``checks``: the data against the contract, in DuckDB (publication).
- ``diff`` / ``versioning``: what changed and which semver version it needs.

Floor 0, beside floe.schemas: the compiler (compile-time checks) and the runtime
(publication checks) both import it.  ``model``, ``checks``, ``diff`` and ``versioning``
run in the image (Python 3.10) and import neither YAML nor the ODCS package.
"""
