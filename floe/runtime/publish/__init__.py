"""Publishing a product's tables to the lakehouse: which catalog and reading it back
(catalog), and the Arrow -> Iceberg commit of each published model (lakehouse)."""
