"""The table format: Delta Lake tables on the warehouse (deltalake), and how their
Parquet files are encoded. Uses only the shared core."""
