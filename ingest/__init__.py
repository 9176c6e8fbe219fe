"""Documents in: loaders (PDF, DOCX, HTML, Markdown, TXT; FAQ tables as CSV/XLSX/JSON/JSONL),
cleaning, structure- and CJK-aware chunking, and the incremental pipeline that writes an index
version of :mod:`indexes`. Entry points: :func:`ingest.pipeline.ingest_paths`,
:func:`ingest.pipeline.delete_sources`, :func:`ingest.loaders.load_file`."""
