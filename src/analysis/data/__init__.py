"""Raw files in, processed data out.

Takes the Statbank API, download URLs, snapshot folders and the analysts' manual files; gives
immutable, hashed raw files under data/raw/ (fetch), their tidy readers (sources/), and one
processed version per change of the raw files under data/processed/ (ingest), read through
`processed.load_processed`. It knows nothing of indicators: what ingest derives from the
observations (the indicator table) is handed to it by the caller.
"""
